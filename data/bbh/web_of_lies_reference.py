# Reference solver of bbh_web_of_lies (data/bbh/web_of_lies.toml): solve(prompt) gets the whole prompt.
# Web of lies: read the statements in order. "X lies." / "X tells the truth." fix X;
# "Y says X lies." makes Y truthful exactly when the claim about X is right.
import re


def solve(text):
    body = text.split("Question:")[-1].strip()
    truthful = {}
    answer = None
    for sent in re.split(r"(?<=[.?])\s+", body):
        sent = sent.strip()
        m = re.fullmatch(r"(.+?) says (.+?) (lies|tells the truth)\.", sent)
        if m:
            truthful[m[1]] = truthful[m[2]] == (m[3] == "tells the truth")
            continue
        m = re.fullmatch(r"(.+?) (lies|tells the truth)\.", sent)
        if m:
            truthful[m[1]] = m[2] == "tells the truth"
            continue
        m = re.fullmatch(r"Does (.+?) tell the truth\?", sent)
        if m:
            answer = "Yes" if truthful[m[1]] else "No"
    return answer
