"""Seeds for the fuzz targets, cut from the project's real-world data (tests/data): the real
gitsign-signed objects, their extracted fixtures and the Sigstore conformance bundles.

    python3 fuzz/seeds.py tests/data fuzz/seeds/generated
"""
import base64
import glob
import json
import os
import sys

data, out = sys.argv[1], sys.argv[2]
written = {}


def put(target, blob):
    if not blob:
        return
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    n = written.get(target, 0)
    with open(os.path.join(d, "%04d" % n), "wb") as f:
        f.write(blob)
    written[target] = n + 1


def signature_pem(raw):
    """The gpgsig header's value of a commit, or the trailing block of a tag."""
    text = raw.decode("latin-1")
    if "\ngpgsig " in text:
        head = text.split("\n\n", 1)[0]
        lines, inside = [], False
        for line in head.split("\n"):
            if line.startswith("gpgsig "):
                inside = True
                lines.append(line[len("gpgsig "):])
            elif inside and line.startswith(" "):
                lines.append(line[1:])
            elif inside:
                break
        return "\n".join(lines) + "\n"
    i = text.rfind("-----BEGIN SIGNED MESSAGE-----")
    return text[i:] if i >= 0 else ""


def pem_der(pem):
    body = "".join(l for l in pem.splitlines() if l and not l.startswith("-----"))
    try:
        return base64.b64decode(body)
    except Exception:
        return b""


for path in sorted(glob.glob(os.path.join(data, "vectors/real/*.commit"))) + sorted(
    glob.glob(os.path.join(data, "vectors/real/*.tag"))
):
    raw = open(path, "rb").read()
    put("git_object", raw)
    if path.endswith(".commit"):
        put("commit_signature", raw)
    pem = signature_pem(raw)
    put("pem", pem.encode())
    put("cms", pem_der(pem))
for path in sorted(glob.glob(os.path.join(data, "fixtures/cert/*.der"))):
    put("certificate", open(path, "rb").read())
for path in sorted(glob.glob(os.path.join(data, "fixtures/tlog/*.tle.pb"))):
    put("tlog_entry", open(path, "rb").read())
for path in sorted(glob.glob(os.path.join(data, "conformance/**/bundle.sigstore.json"), recursive=True)) + sorted(
    glob.glob(os.path.join(data, "fixtures/tsa/**/bundle.sigstore.json"), recursive=True)
):
    raw = open(path, "rb").read()
    put("bundle", raw)
    try:
        b = json.loads(raw)
    except ValueError:
        continue
    vm = b.get("verificationMaterial", {})
    for ts in vm.get("timestampVerificationData", {}).get("rfc3161Timestamps", []):
        put("timestamp", base64.b64decode(ts.get("signedTimestamp", "")))
        put("timestamp_response", base64.b64decode(ts.get("signedTimestamp", "")))
    for e in vm.get("tlogEntries", []):
        cp = e.get("inclusionProof", {}).get("checkpoint", {}).get("envelope")
        if cp:
            put("checkpoint", cp.encode())
        body = e.get("canonicalizedBody")
        if body:
            put("tlog_body", base64.b64decode(body))
    for c in vm.get("x509CertificateChain", {}).get("certificates", []) + [vm.get("certificate", {})]:
        if c.get("rawBytes"):
            put("certificate", base64.b64decode(c["rawBytes"]))
print("fuzz seeds: " + ", ".join("%s %d" % kv for kv in sorted(written.items())))
