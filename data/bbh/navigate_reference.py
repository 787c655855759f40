# Reference solver of bbh_navigate (data/bbh/navigate.toml): solve(prompt) gets the whole prompt.
# Navigate: simulate the walk on a grid; "Always face forward" keeps the heading fixed,
# "Turn ..." changes it; steps left/right/backward are relative to the heading.
import re


def solve(text):
    body = text.split("?", 1)[1].split("Options:")[0]
    x = y = 0
    dx, dy = 0, 1
    for sent in re.split(r"\.\s*", body):
        sent = sent.strip()
        if not sent or sent == "Always face forward":
            continue
        m = re.fullmatch(r"Take (\d+) steps?(?: (forward|backward|left|right))?", sent)
        if m:
            n, d = int(m[1]), m[2] or "forward"
            vx, vy = {"forward": (dx, dy), "backward": (-dx, -dy),
                      "left": (-dy, dx), "right": (dy, -dx)}[d]
            x, y = x + n * vx, y + n * vy
            continue
        m = re.fullmatch(r"Turn (left|right|around)", sent)
        if m:
            if m[1] == "left":
                dx, dy = -dy, dx
            elif m[1] == "right":
                dx, dy = dy, -dx
            else:
                dx, dy = -dx, -dy
            continue
        raise ValueError("cannot parse: " + sent)
    return "Yes" if (x, y) == (0, 0) else "No"
