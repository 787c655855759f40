#!/usr/bin/env python3
"""Schema check of tools/deploy (no cluster needed): the Kubernetes manifests have the required
fields, their selectors, names, ports, volumes and Secret keys agree, and every command line in
them (and in the Slurm script) uses only flags that `codesweep <subcommand> --help` knows.
Usage: validate_deploy.py SOURCE_DIR CODESWEEP_BINARY. Exit 0 = valid, 1 = invalid, 77 = skip."""
import os
import re
import subprocess
import sys

try:
    import yaml
except ImportError:
    print("SKIP: python3-yaml is not installed")
    sys.exit(77)

ERRORS = []


def check(cond, msg):
    if not cond:
        ERRORS.append(msg)
    return cond


def help_flags(binary, sub):
    out = subprocess.run([binary, sub, "--help"], capture_output=True, text=True).stdout
    return set(re.findall(r"(--[a-z][a-z0-9-]*)", out))


def flag_value(args, flag):
    return args[args.index(flag) + 1] if flag in args and args.index(flag) + 1 < len(args) else None


def check_args(binary, args, where, required):
    sub = args[0]
    known = help_flags(binary, sub)
    check(known, f"{where}: `codesweep {sub} --help` lists no flags")
    for a in args:
        if a.startswith("--"):
            check(a in known, f"{where}: unknown flag {a} for codesweep {sub}")
    for r in required:
        check(r in args, f"{where}: missing required {r}")


def mounted_file(pod, container, path, docs, where):
    """The file at `path` must come from a mounted volume whose source provides that key."""
    for m in container.get("volumeMounts", []):
        mp = m["mountPath"].rstrip("/") + "/"
        if not path.startswith(mp) and path.rstrip("/") + "/" != mp:
            continue
        rel = path[len(mp):]
        vol = next((v for v in pod.get("volumes", []) if v["name"] == m["name"]), None)
        if vol is None:  # a volumeClaimTemplate
            return True
        src = vol.get("secret") or vol.get("configMap")
        if not check(src, f"{where}: volume {m['name']} has no secret/configMap"):
            return False
        kind = "Secret" if "secret" in vol else "ConfigMap"
        name = src.get("secretName") or src.get("name")
        obj = docs.get((kind, name))
        if not check(obj, f"{where}: {kind} {name} is not defined"):
            return False
        keys = set((obj.get("stringData") or {}).keys()) | set((obj.get("data") or {}).keys())
        items = {i["path"]: i["key"] for i in src.get("items", [])} or {k: k for k in keys}
        if rel == "":  # a directory
            return check(items, f"{where}: {path} is an empty directory")
        return check(rel in items and items[rel] in keys, f"{where}: {path} is not provided by {kind} {name}")
    return check(False, f"{where}: nothing is mounted at {path}")


def validate_k8s(src, binary):
    kdir = os.path.join(src, "tools/deploy/kubernetes")
    docs = {}
    for f in sorted(os.listdir(kdir)):
        if not f.endswith(".yaml"):
            continue
        for d in yaml.safe_load_all(open(os.path.join(kdir, f))):
            if d is None:
                continue
            for field in ("apiVersion", "kind", "metadata"):
                check(field in d, f"{f}: a document lacks {field}")
            check(d.get("metadata", {}).get("name"), f"{f}: a {d.get('kind')} lacks metadata.name")
            docs[(d["kind"], d["metadata"]["name"])] = d
    kinds = {k for k, _ in docs}
    for k in ("Service", "StatefulSet", "Deployment", "Secret", "ConfigMap"):
        check(k in kinds, f"kubernetes: no {k}")
    svc = next((d for (k, _), d in docs.items() if k == "Service"), None)
    sts = next((d for (k, _), d in docs.items() if k == "StatefulSet"), None)
    dep = next((d for (k, _), d in docs.items() if k == "Deployment"), None)
    if not (svc and sts and dep):
        return
    images = set()
    for w in (sts, dep):
        spec = w["spec"]
        labels = spec["template"]["metadata"]["labels"]
        sel = spec["selector"]["matchLabels"]
        check(all(labels.get(k) == v for k, v in sel.items()), f"{w['kind']}: selector does not match pod labels")
        containers = spec["template"]["spec"]["containers"]
        check(len(containers) == 1, f"{w['kind']}: expected one container")
        for c in containers:
            check(c.get("image"), f"{w['kind']}: container without image")
            images.add(c.get("image"))
    check(len(images) == 1, f"kubernetes: coordinator and workers use different images {images}")

    # Coordinator.
    check(sts["spec"].get("replicas") == 1, "StatefulSet: the coordinator must have exactly 1 replica")
    check(sts["spec"].get("serviceName") == svc["metadata"]["name"], "StatefulSet: serviceName is not the Service")
    pod = sts["spec"]["template"]["spec"]
    c = pod["containers"][0]
    args = c["args"]
    check_args(binary, args, "StatefulSet", ["--db", "--bind", "--curve-secret", "--authorized-keys"])
    check(all(svc["spec"]["selector"].get(k) == v for k, v in sts["spec"]["template"]["metadata"]["labels"].items()
              if k in svc["spec"]["selector"]), "Service: selector does not match the coordinator pods")
    port = int((flag_value(args, "--bind") or ":0").rsplit(":", 1)[1])
    check(any(p["port"] == port or p.get("targetPort") == port for p in svc["spec"]["ports"]),
          f"Service: no port {port} (the coordinator's --bind)")
    claims = {t["metadata"]["name"] for t in sts["spec"].get("volumeClaimTemplates", [])}
    db = flag_value(args, "--db") or ""
    check(any(m["name"] in claims and db.startswith(m["mountPath"]) for m in c.get("volumeMounts", [])),
          f"StatefulSet: --db {db} is not on a PersistentVolumeClaim")
    for flag in ("--curve-secret", "--authorized-keys"):
        mounted_file(pod, c, flag_value(args, flag) or "", docs, f"StatefulSet {flag}")
    mounted_file(pod, c, args[1], docs, "StatefulSet sweep file")

    # Workers.
    pod = dep["spec"]["template"]["spec"]
    c = pod["containers"][0]
    args = c["args"]
    check_args(binary, args, "Deployment", ["--connect", "--server-key", "--curve-secret"])
    connect = flag_value(args, "--connect") or ""
    m = re.match(r"tcp://([^:]+):(\d+)$", connect)
    if check(m, f"Deployment: --connect {connect} is not tcp://HOST:PORT"):
        check(m.group(1) == svc["metadata"]["name"], "Deployment: --connect host is not the Service")
        check(any(p["port"] == int(m.group(2)) for p in svc["spec"]["ports"]), "Deployment: --connect port not served")
    for flag in ("--server-key", "--curve-secret"):
        mounted_file(pod, c, flag_value(args, flag) or "", docs, f"Deployment {flag}")
    drain = int(flag_value(args, "--drain-timeout-ms") or 30000)
    check(drain < 1000 * pod.get("terminationGracePeriodSeconds", 30),
          "Deployment: --drain-timeout-ms must end before terminationGracePeriodSeconds")


def validate_slurm(src, binary):
    path = os.path.join(src, "tools/deploy/slurm/codesweep-workers.sbatch")
    text = open(path).read()
    check(re.search(r"^#SBATCH --array=\d+-\d+%\d+", text, re.M), "sbatch: no throttled --array=0-N%K")
    check(re.search(r"^#SBATCH --signal=B:TERM@\d+", text, re.M), "sbatch: no --signal=B:TERM@SECONDS")
    used = set(re.findall(r"(--[a-z][a-z0-9-]*)", "\n".join(l for l in text.splitlines() if not l.startswith("#"))))
    known = help_flags(binary, "worker")
    for f in used:
        check(f in known, f"sbatch: unknown worker flag {f}")


def main():
    src, binary = sys.argv[1], sys.argv[2]
    validate_k8s(src, binary)
    validate_slurm(src, binary)
    for e in ERRORS:
        print("INVALID:", e)
    if not ERRORS:
        print("tools/deploy: kubernetes manifests and slurm script are consistent")
    sys.exit(1 if ERRORS else 0)


if __name__ == "__main__":
    main()
