//! Real clients loading liboxihsm.so (issue: real clients): OpenSC pkcs11-tool --test and
//! --test-fork; OpenSSL 3 with the libp11 engine (certificates made with token keys,
//! s_server over TLS 1.2 and 1.3 reached by s_client and curl); nginx with its key in the
//! token; GnuTLS p11tool/certtool/gnutls-serv/gnutls-cli; NSS modutil/certutil/pk12util
//! and its TLS server selfserv; Java SunPKCS11 (and JSSE with the token first, its TLS 1.2
//! key schedule in the token); p11-kit; PyKCS11; OpenDNSSEC's ods-hsmutil; OpenSSH's
//! ssh-keygen and ssh-agent; pkcs11-helper's pkcs11-data. GnuPG is in tests/gnupg.rs.

mod common;
use common::clients::*;
use common::*;
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Waits until something listens on `port`.
fn wait_for(port: u16, child: &mut Child) {
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("server exited early: {status}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("nothing listens on port {port}");
}

/// Starts `cmd` (its output discarded unless the caller piped it) and waits until it listens
/// on `port`.
fn listening(cmd: &mut Command, port: u16) -> Server {
    let mut server = Server(cmd.stdout(Stdio::null()).spawn().unwrap());
    wait_for(port, &mut server.0);
    server
}

/// Kills a background server when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn pkcs11_tool_self_tests() {
    let h = Harness::new();
    token(&h);
    let mut c = tool("pkcs11-tool");
    c.arg("--module").arg(&h.lib).envs(h.env());
    run_ok(c.args([
        "--token-label",
        TOKEN,
        "--login",
        "--pin",
        USER_PIN,
        "--keygen",
        "--key-type",
        "AES:32",
        "--label",
        "aes",
    ]));
    let mut c = tool("pkcs11-tool");
    let out = run_ok(c.arg("--module").arg(&h.lib).envs(h.env()).args([
        "--token-label",
        TOKEN,
        "--login",
        "--pin",
        USER_PIN,
        "--test",
        "--allow-sw",
    ]));
    assert!(out.contains("No errors"), "{out}");
    assert!(out.contains("all 4 signature functions seem to work"), "{out}");
    let mut c = tool("pkcs11-tool");
    let out = run_ok(c.arg("--module").arg(&h.lib).envs(h.env()).args([
        "--token-label",
        TOKEN,
        "--login",
        "--pin",
        USER_PIN,
        "--test-fork",
        "--allow-sw",
    ]));
    assert!(out.contains("C_Initialize in forked child"), "{out}");
}

#[test]
fn openssl_engine_certificates_and_tls_servers() {
    let h = Harness::new();
    token(&h);
    let conf = engine_conf(&h);
    for label in ["rsa", "ec"] {
        let cert = engine_cert(&h, &conf, label);
        let text = run_ok(openssl(&h, &conf).args(["x509", "-noout", "-text", "-in"]).arg(&cert));
        assert!(text.contains(if label == "rsa" { "sha256WithRSAEncryption" } else { "ecdsa-with-SHA256" }), "{text}");
        run_ok(openssl(&h, &conf).args(["verify", "-CAfile"]).arg(&cert).arg(&cert));
        let port = free_port();
        let mut server = openssl(&h, &conf);
        server
            .args([
                "s_server",
                "-engine",
                "pkcs11",
                "-keyform",
                "engine",
                "-key",
                &key_uri(label),
                "-www",
                "-accept",
                &port.to_string(),
                "-cert",
            ])
            .arg(&cert)
            .stderr(Stdio::null());
        let _server = listening(&mut server, port);
        for version in ["-tls1_2", "-tls1_3"] {
            let out = openssl(&h, &conf)
                .args([
                    "s_client",
                    "-connect",
                    &format!("localhost:{port}"),
                    "-verify_return_error",
                    version,
                    "-CAfile",
                ])
                .arg(&cert)
                .stdin(Stdio::null())
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                text.contains("Verify return code: 0 (ok)"),
                "{label} {version}: {text}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let want = if version == "-tls1_3" { "TLSv1.3" } else { "TLSv1.2" };
            assert!(text.contains(want), "{label} {version}: {text}");
        }
        let page = run_ok(
            tool("curl").args(["-s", "--fail", "--cacert"]).arg(&cert).arg(format!("https://localhost:{port}/")),
        );
        assert!(page.contains("s_server"), "{page}");
    }
}

#[test]
fn nginx_serves_https_with_a_token_key() {
    let h = Harness::new();
    token(&h);
    let conf = engine_conf(&h);
    let cert = engine_cert(&h, &conf, "rsa");
    let prefix = h.dir.path().join("nginx");
    std::fs::create_dir_all(prefix.join("logs")).unwrap();
    let port = free_port();
    let tmp = prefix.join("tmp");
    let nginx_conf = prefix.join("nginx.conf");
    std::fs::write(
        &nginx_conf,
        format!(
            "daemon off;\nmaster_process off;\nworker_processes 1;\nerror_log {logs}/error.log;\npid {logs}/nginx.pid;\n\
             env OXIHSM_CONF;\nenv OPENSSL_CONF;\nevents {{ worker_connections 16; }}\nhttp {{\n access_log off;\n\
             client_body_temp_path {tmp};\n proxy_temp_path {tmp};\n fastcgi_temp_path {tmp};\n uwsgi_temp_path {tmp};\n scgi_temp_path {tmp};\n\
             server {{\n  listen 127.0.0.1:{port} ssl;\n  ssl_certificate {cert};\n  ssl_certificate_key \"engine:pkcs11:{key}\";\n\
              location / {{ return 200 \"hello from a key in oxihsm\\n\"; }}\n }}\n}}\n",
            logs = prefix.join("logs").display(),
            tmp = tmp.display(),
            cert = cert.display(),
            key = key_uri("rsa"),
        ),
    )
    .unwrap();
    let mut nginx = tool("nginx");
    nginx.arg("-p").arg(&prefix).arg("-c").arg(&nginx_conf).envs(h.env()).env("OPENSSL_CONF", &conf);
    let _server = listening(nginx.stderr(Stdio::piped()), port);
    let page =
        run_ok(tool("curl").args(["-s", "--fail", "--cacert"]).arg(&cert).arg(format!("https://localhost:{port}/")));
    assert_eq!(page, "hello from a key in oxihsm\n");
}

#[test]
fn gnutls_tools() {
    let h = Harness::new();
    token(&h);
    let d = h.dir.path();
    let gnutls = |name: &str| {
        let mut c = tool(name);
        c.current_dir(d).envs(h.env()).env("GNUTLS_PIN", USER_PIN).arg("--provider").arg(&h.lib);
        c
    };
    let tokens = run_ok(gnutls("p11tool").arg("--list-tokens"));
    assert!(tokens.contains(&format!("token={TOKEN}")) && tokens.contains("oxihsm"), "{tokens}");
    let all = run_ok(gnutls("p11tool").args(["--login", "--list-all", &format!("pkcs11:token={TOKEN}")]));
    assert!(all.contains("object=rsa;type=private") && all.contains("EC/ECDSA-SECP256R1"), "{all}");
    run_ok(gnutls("p11tool").args([
        "--login",
        "--generate-privkey",
        "rsa",
        "--bits",
        "2048",
        "--label",
        "gnutls-key",
        &format!("pkcs11:token={TOKEN}"),
    ]));
    let key = format!("pkcs11:token={TOKEN};object=gnutls-key;type=private");
    std::fs::write(d.join("tmpl.cfg"), "cn = \"localhost\"\ndns_name = \"localhost\"\nexpiration_days = 2\ntls_www_server\nsigning_key\nencryption_key\n").unwrap();
    run_ok(gnutls("certtool").args([
        "--generate-self-signed",
        "--load-privkey",
        &key,
        "--template",
        "tmpl.cfg",
        "--outfile",
        "gnutls.pem",
    ]));
    let port = free_port();
    let mut serv = gnutls("gnutls-serv");
    serv.args(["--x509keyfile", &key, "--x509certfile", "gnutls.pem", "-p", &port.to_string()]);
    let _server = listening(serv.stderr(Stdio::null()), port);
    let out = tool("gnutls-cli")
        .current_dir(d)
        .args(["--x509cafile", "gnutls.pem", "-p", &port.to_string(), "localhost"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Handshake was completed") && text.contains("The certificate is trusted"),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn nss_tools() {
    let h = Harness::new();
    token(&h);
    let d = h.dir.path();
    std::fs::create_dir(d.join("nssdb")).unwrap();
    std::fs::write(d.join("pw.txt"), USER_PIN).unwrap();
    std::fs::write(d.join("noise"), [7u8; 64]).unwrap();
    let nss = |name: &str| {
        let mut c = tool(name);
        c.current_dir(d).envs(h.env()).env_remove("NSS_DEBUG_PKCS11_MODULE");
        c
    };
    run_ok(nss("certutil").args(["-N", "-d", "sql:nssdb", "--empty-password"]));
    run_ok(
        nss("modutil")
            .args(["-dbdir", "sql:nssdb", "-add", "oxihsm", "-force", "-libfile"])
            .arg(&h.lib)
            .stdin(Stdio::null()),
    );
    let list = run_ok(nss("modutil").args(["-dbdir", "sql:nssdb", "-list", "oxihsm"]));
    assert!(list.contains(&format!("Token Name: {TOKEN}")) && list.contains("PKCS #11 Version 3.2"), "{list}");
    let keys = run_ok(nss("certutil").args(["-K", "-d", "sql:nssdb", "-h", TOKEN, "-f", "pw.txt"]));
    assert!(keys.contains("rsa") && keys.contains("ec"), "{keys}");
    // A certificate imported into the token, matching the token's RSA key.
    let conf = engine_conf(&h);
    let cert = engine_cert(&h, &conf, "rsa");
    run_ok(
        nss("certutil")
            .args(["-A", "-d", "sql:nssdb", "-h", TOKEN, "-n", "rsa-cert", "-t", "CT,C,C", "-f", "pw.txt", "-i"])
            .arg(&cert),
    );
    let certs = run_ok(nss("certutil").args(["-L", "-d", "sql:nssdb", "-h", TOKEN, "-f", "pw.txt"]));
    assert!(certs.contains(&format!("{TOKEN}:rsa-cert")), "{certs}");
    // NSS makes a key in the token and signs a certificate with it; openssl checks it.
    run_ok(nss("certutil").args([
        "-S",
        "-d",
        "sql:nssdb",
        "-h",
        TOKEN,
        "-n",
        "nss-self",
        "-s",
        "CN=signed by NSS in oxihsm",
        "-x",
        "-t",
        "CT,C,C",
        "-k",
        "ec",
        "-q",
        "nistp256",
        "-f",
        "pw.txt",
        "-z",
        "noise",
    ]));
    let pem = run_ok(nss("certutil").args([
        "-L",
        "-d",
        "sql:nssdb",
        "-h",
        TOKEN,
        "-n",
        &format!("{TOKEN}:nss-self"),
        "-a",
        "-f",
        "pw.txt",
    ]));
    std::fs::write(d.join("nss.pem"), pem).unwrap();
    let out = run_ok(tool("openssl").current_dir(d).args(["verify", "-CAfile", "nss.pem", "nss.pem"]));
    assert!(out.contains("nss.pem: OK"), "{out}");

    // A PKCS #12 file (an OpenSSL key and certificate) imported into the token by pk12util:
    // the key lands sensitive and unextractable, NSS signs a certificate with it (openssl
    // checks that against the imported certificate), and pk12util cannot export it again.
    let openssl = |args: &[&str]| run_ok(tool("openssl").current_dir(d).args(args));
    let subject = ["-subj", "/CN=imported from PKCS 12", "-days", "2"];
    openssl(
        &[&["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "p12.key", "-out", "p12.pem"][..], &subject]
            .concat(),
    );
    let p12 = ["-inkey", "p12.key", "-in", "p12.pem", "-out", "in.p12", "-name", "p12key", "-passout", "pass:p12pass"];
    openssl(&[&["pkcs12", "-export"][..], &p12].concat());
    std::fs::write(d.join("p12pw.txt"), "p12pass").unwrap();
    let imported = run_ok(nss("pk12util").args([
        "-i",
        "in.p12",
        "-d",
        "sql:nssdb",
        "-h",
        TOKEN,
        "-k",
        "pw.txt",
        "-w",
        "p12pw.txt",
    ]));
    assert!(imported.contains("PKCS12 IMPORT SUCCESSFUL"), "{imported}");
    let p = h.ctx();
    let slot = p.get_slots_with_token().unwrap()[0];
    let s = user_session(&p, slot);
    use cryptoki::object::{Attribute, AttributeType, ObjectClass};
    let found = s.find_objects(&[Attribute::Class(ObjectClass::PRIVATE_KEY), Attribute::Label(b"p12key".to_vec())]);
    let key = found.unwrap()[0];
    let flags = s.get_attributes(key, &[AttributeType::Sensitive, AttributeType::Extractable]).unwrap();
    assert_eq!(flags, [Attribute::Sensitive(true), Attribute::Extractable(false)]);
    drop(s);
    drop(p);
    run_ok(
        nss("certutil").args(["-S", "-d", "sql:nssdb", "-h", TOKEN, "-f", "pw.txt", "-z", "noise", "-t", ",,"]).args([
            "-n",
            "child",
            "-s",
            "CN=signed with the imported key",
            "-c",
            &format!("{TOKEN}:p12key"),
            "-k",
            "ec",
            "-q",
            "nistp256",
        ]),
    );
    let pem = run_ok(
        nss("certutil")
            .args(["-L", "-d", "sql:nssdb", "-h", TOKEN, "-f", "pw.txt", "-a", "-n"])
            .arg(format!("{TOKEN}:child")),
    );
    std::fs::write(d.join("child.pem"), pem).unwrap();
    assert!(openssl(&["verify", "-CAfile", "p12.pem", "child.pem"]).contains("child.pem: OK"));
    let export = nss("pk12util")
        .args(["-o", "out.p12", "-d", "sql:nssdb", "-k", "pw.txt", "-W", "x", "-n"])
        .arg(format!("{TOKEN}:p12key"))
        .output()
        .unwrap();
    assert!(!export.status.success(), "the imported key was exported: {export:?}");

    // NSS's TLS server (selfserv) with its keys in the token: the EC key NSS made (ECDHE-ECDSA,
    // TLS 1.2 and 1.3) and the RSA key pk12util imported (RSA key exchange, the pre-master
    // secret decrypted by the token), each reached by openssl s_client, which checks the
    // certificate.
    for (nick, pem, cipher) in
        [("nss-self", "nss.pem", "ECDHE-ECDSA-AES128-GCM-SHA256"), ("p12key", "p12.pem", "AES128-GCM-SHA256")]
    {
        let port = free_port();
        let mut serv = nss("selfserv");
        serv.args(["-d", "sql:nssdb", "-f", "pw.txt", "-V", "tls1.2:tls1.3", "-p", &port.to_string(), "-n"]);
        let _server = listening(serv.arg(format!("{TOKEN}:{nick}")).stderr(Stdio::null()), port);
        for version in ["-tls1_2", "-tls1_3"] {
            let mut client = tool("openssl");
            client.current_dir(d).args(["s_client", "-connect", &format!("127.0.0.1:{port}"), version]);
            if version == "-tls1_2" {
                client.args(["-cipher", cipher]);
            }
            let mut child = client
                .args(["-verify_return_error", "-ign_eof", "-CAfile", pem])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            child.stdin.take().unwrap().write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
            let out = child.wait_with_output().unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            let want = if version == "-tls1_3" { "TLSv1.3" } else { "TLSv1.2" };
            assert!(
                text.contains("Verify return code: 0 (ok)") && text.contains(want) && text.contains("HTTP/1.0 200 OK"),
                "selfserv {nick} {version}: {text}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

#[test]
fn java_sunpkcs11() {
    let h = Harness::new();
    token(&h);
    let d = h.dir.path();
    let cfg = d.join("pkcs11.cfg");
    // KeyAgreement.generateSecret() reads the derived value: SunPKCS11's standard attribute
    // override asks for that secret to be extractable (oxihsm keeps secrets sensitive unless
    // told otherwise).
    std::fs::write(
        &cfg,
        format!(
            "name = oxihsm\nlibrary = {}\nslot = 0\nattributes(generate, CKO_SECRET_KEY, CKK_GENERIC_SECRET) = {{\n  CKA_SENSITIVE = false\n  CKA_EXTRACTABLE = true\n}}\n",
            h.lib.display()
        ),
    )
    .unwrap();
    let java = |name: &str| {
        let mut c = tool(name);
        c.current_dir(d).envs(h.env());
        c
    };
    // A key pair and self-signed certificate made in the token by keytool, under `alias`.
    let genkeypair = |alias: &str, algorithm: &[&str]| {
        let mut keytool = java("keytool");
        keytool.args(["-genkeypair", "-keystore", "NONE", "-storetype", "PKCS11", "-addprovider", "SunPKCS11"]);
        keytool.arg("-providerArg").arg(&cfg).args(["-storepass", USER_PIN, "-alias", alias]).args(algorithm);
        run_ok(keytool.args(["-dname", "CN=localhost", "-validity", "2"]));
    };
    genkeypair("tls", &["-keyalg", "EC", "-groupname", "secp256r1"]);
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/java/OxihsmJava.java");
    run_ok(java("javac").arg("-d").arg(d).arg(&src));
    let out = run_ok(java("java").arg("-cp").arg(d).arg("OxihsmJava").arg(&cfg).arg(USER_PIN));
    assert!(out.contains("ALL OK"), "{out}");
    assert!(out.contains("ok: JSSE TLS server with its key in the token"), "{out}");
    assert!(out.contains("ok: ChaCha20-Poly1305 in the token matches SunJCE"), "{out}");
    assert!(out.contains("ok: DES/CBC/PKCS5Padding in the token, decrypted by SunJCE"), "{out}");
    assert!(out.contains("ok: RSA/ECB/NoPadding decrypts 00..1"), "{out}");
    assert!(out.contains("ok: an RSA key imported from its modulus and private exponent signs"), "{out}");
    assert!(out.contains("ok: RSASSA-PSS (SHA-256, 32-byte salt) made in the token verifies"), "{out}");
    assert!(out.contains("ok: secp521r1 SHA512withECDSAinP1363Format made in the token verifies"), "{out}");
    assert!(out.contains("ok: the KeyStore entry is gone once deleted"), "{out}");
    // JSSE with the token as the first provider: the TLS 1.2 key schedule in the token, the
    // client openssl s_client; an RSA key for RSA key exchange too.
    genkeypair("tls-rsa", &["-keyalg", "RSA", "-keysize", "2048"]);
    let first = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/java/JsseTokenFirst.java");
    run_ok(java("javac").arg("-d").arg(d).arg(&first));
    // With RFC 7627's extended master secret off (the token makes the master secret) and on
    // (the JDK's default: SunJCE makes it).
    for ems in [&[][..], &["ems"][..]] {
        let out = run_ok(java("java").arg("-cp").arg(d).arg("JsseTokenFirst").arg(&cfg).arg(USER_PIN).args(ems));
        assert!(out.contains("ALL OK"), "{out}");
        for suite in [
            "TLSv1.2 with openssl s_client, ECDHE-ECDSA-AES128-GCM-SHA256",
            "TLSv1.2 with openssl s_client, ECDHE-ECDSA-AES256-GCM-SHA384",
            "TLSv1.2 with openssl s_client, AES128-GCM-SHA256",
            "TLSv1.3 with openssl s_client, TLS_AES_256_GCM_SHA384",
            "TLSv1.3 with openssl s_client, TLS_CHACHA20_POLY1305_SHA256",
            "JSSE client to openssl s_server, TLSv1.2 TLS_RSA_WITH_AES_128_GCM_SHA256",
            "JSSE client to openssl s_server, TLSv1.2 TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            "JSSE client to openssl s_server, TLSv1.3 TLS_AES_128_GCM_SHA256",
            "SunTls12RsaPremasterSecret is the token's",
        ] {
            assert!(out.contains(&format!("ok: {suite}")), "{ems:?} {suite}: {out}");
        }
    }
}

/// PyKCS11 (Debian's python3-pykcs11, under the system Python): multi-part AES-GCM
/// encryption returning ciphertext from each update, raw RSA over a short text checked
/// with Python's own arithmetic, a search by an attribute no object has, and an EC key pair
/// on explicit P-256 parameters (tests/python/pykcs11_client.py).
#[test]
fn python_pykcs11() {
    let h = Harness::new();
    token(&h);
    let python = Path::new("/usr/bin/python3");
    assert!(python.exists(), "/usr/bin/python3 missing: .ci/run installs python3-pykcs11");
    let has = Command::new(python).args(["-c", "import PyKCS11"]).status().unwrap();
    assert!(has.success(), "PyKCS11 missing for /usr/bin/python3: .ci/run installs python3-pykcs11");
    let d = h.dir.path();
    run_ok(
        tool("openssl")
            .current_dir(d)
            .args(["ecparam", "-name", "prime256v1", "-param_enc", "explicit"])
            .args(["-outform", "DER", "-out", "p256.der"]),
    );
    let der = std::fs::read(d.join("p256.der")).unwrap();
    let hex: String = der.iter().map(|b| format!("{b:02x}")).collect();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/pykcs11_client.py");
    let out = run_ok(Command::new(python).arg(&script).arg(&h.lib).args([TOKEN, USER_PIN, &hex]).envs(h.env()));
    assert!(out.contains("pykcs11 client: OK"), "{out}");
}

/// The system's p11-kit client module (Debian: package p11-kit-modules).
fn p11_kit_client() -> PathBuf {
    let arch = run_ok(Command::new("uname").arg("-m")).trim().to_string();
    let candidates = [
        PathBuf::from(format!("/usr/lib/{arch}-linux-gnu/pkcs11/p11-kit-client.so")),
        PathBuf::from("/usr/lib/pkcs11/p11-kit-client.so"),
        PathBuf::from("/usr/lib64/pkcs11/p11-kit-client.so"),
    ];
    candidates.into_iter().find(|p| p.exists()).expect("p11-kit-client.so missing: .ci/run installs p11-kit-modules")
}

#[test]
fn p11_kit_module_file_and_remoting() {
    let h = Harness::new();
    token(&h);
    let d = h.dir.path();
    // The install script puts the library and a module file where it is told.
    let prefix = d.join("prefix");
    let modules = d.join("home/.config/pkcs11/modules");
    let build_dir = built_lib().parent().unwrap().to_path_buf();
    run_ok(
        Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/install.sh"))
            .arg("--prefix")
            .arg(&prefix)
            .arg("--module-dir")
            .arg(&modules)
            .arg("--build-dir")
            .arg(&build_dir),
    );
    let module_file = std::fs::read_to_string(modules.join("oxihsm.module")).unwrap();
    let installed = prefix.join("lib/oxihsm/liboxihsm.so");
    assert!(installed.exists());
    assert!(module_file.contains(&format!("module: {}", installed.display())), "{module_file}");

    // p11-kit reads user module files only for unprivileged users: run it as one.
    let mut list = if running_as_root() {
        for p in [
            d.to_path_buf(),
            d.join("home"),
            d.join("home/.config"),
            d.join("home/.config/pkcs11"),
            modules.clone(),
            prefix.clone(),
            prefix.join("lib"),
            prefix.join("lib/oxihsm"),
            h.token_dir.clone(),
        ] {
            run_ok(Command::new("chmod").arg("a+rwx").arg(&p));
        }
        for f in std::fs::read_dir(&h.token_dir).unwrap() {
            run_ok(Command::new("chmod").arg("a+rw").arg(f.unwrap().path()));
        }
        run_ok(Command::new("chmod").arg("a+r").arg(&h.conf));
        let mut c = tool("setpriv");
        c.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "p11-kit", "list-modules"]);
        c
    } else {
        let mut c = tool("p11-kit");
        c.arg("list-modules");
        c
    };
    let listed = run_ok(list.env("HOME", d.join("home")).env_remove("XDG_CONFIG_HOME").envs(h.env()));
    assert!(listed.contains("oxihsm: ") && listed.contains(&format!("token: {TOKEN}")), "{listed}");

    // p11-kit server exports the token; its client module drives it remotely.
    let sock = d.join("p11kit.sock");
    let child = tool("p11-kit")
        .args(["server", "-f", "-n"])
        .arg(&sock)
        .arg("--provider")
        .arg(&h.lib)
        .arg(format!("pkcs11:token={TOKEN}"))
        .envs(h.env())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _server = Server(child);
    for _ in 0..100 {
        if sock.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let client = p11_kit_client();
    let remote = || {
        let mut c = tool("pkcs11-tool");
        c.current_dir(d)
            .arg("--module")
            .arg(&client)
            .env("P11_KIT_SERVER_ADDRESS", format!("unix:path={}", sock.display()));
        c
    };
    let slots = run_ok(remote().arg("--list-slots"));
    assert!(slots.contains(TOKEN) && slots.contains("oxihsm"), "{slots}");
    std::fs::write(d.join("msg"), b"signed through p11-kit remoting").unwrap();
    run_ok(remote().args([
        "--login",
        "--pin",
        USER_PIN,
        "--sign",
        "-m",
        "SHA256-RSA-PKCS",
        "--label",
        "rsa",
        "-i",
        "msg",
        "-o",
        "sig",
    ]));
    run_ok(tool("pkcs11-tool").arg("--module").arg(&h.lib).envs(h.env()).current_dir(d).args([
        "--token-label",
        TOKEN,
        "--read-object",
        "--type",
        "pubkey",
        "--label",
        "rsa",
        "-o",
        "pub.der",
    ]));
    let ok = run_ok(tool("openssl").current_dir(d).args([
        "dgst",
        "-sha256",
        "-verify",
        "pub.der",
        "-keyform",
        "DER",
        "-signature",
        "sig",
        "msg",
    ]));
    assert!(ok.contains("Verified OK"), "{ok}");
    let generated = run_ok(remote().args([
        "--login",
        "--pin",
        USER_PIN,
        "--keypairgen",
        "--key-type",
        "EC:prime256v1",
        "--label",
        "remote-ec",
    ]));
    assert!(generated.contains("Private Key Object; EC"), "{generated}");
    let objects = run_ok(tool("pkcs11-tool").arg("--module").arg(&h.lib).envs(h.env()).args([
        "--token-label",
        TOKEN,
        "--login",
        "--pin",
        USER_PIN,
        "--list-objects",
    ]));
    assert!(objects.contains("remote-ec"), "the key made remotely is in the token: {objects}");
}

fn running_as_root() -> bool {
    run_ok(Command::new("id").arg("-u")).trim() == "0"
}

/// OpenDNSSEC's libhsm through `ods-hsmutil` (Debian: libhsm-bin), the tool SoftHSMv2 was
/// first written for: its own self test at the RSA sizes it asks for (1024 and 1536 bits among
/// them: OpenDNSSEC's shipped policy signs zones with 1024-bit keys), key generation, listing,
/// DNSKEY records that carry the token's public keys (decoded here and compared with the
/// key's attributes), removal and purge.
#[test]
fn opendnssec_hsmutil() {
    use cryptoki::object::{Attribute, AttributeType, ObjectClass};
    let h = Harness::new();
    token(&h);
    let d = h.dir.path();
    let conf = d.join("conf.xml");
    std::fs::write(
        &conf,
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<Configuration>
  <RepositoryList>
    <Repository name="oxihsm">
      <Module>{}</Module>
      <TokenLabel>{TOKEN}</TokenLabel>
      <PIN>{USER_PIN}</PIN>
    </Repository>
  </RepositoryList>
  <Common><Logging><Verbosity>3</Verbosity></Logging></Common>
</Configuration>
"#,
            h.lib.display()
        ),
    )
    .unwrap();
    let ods = || {
        let mut c = tool("ods-hsmutil");
        c.arg("-c").arg(&conf).envs(h.env());
        c
    };

    // The self test: each key it makes is generated, named and used, or refused (RSA under
    // 1024 bits, DSA under 1024, GOST and Ed448, as oxihsm does not offer them); it exits
    // non-zero for those refusals, so its sections are checked one by one.
    let out = ods().args(["test", "oxihsm"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    // (Its ECDSA signing step prints no result with SoftHSMv2 either, and runs into the next
    // key's line: sections are split where a key is generated, and ECDSA is checked below.)
    for key in [
        "1024-bit RSA key",
        "1536-bit RSA key",
        "2048-bit RSA key",
        "4096-bit RSA key",
        "1024-bit DSA key",
        "ED25519 key",
    ] {
        let section = text
            .split("Generating ")
            .find(|s| s.starts_with(key))
            .unwrap_or_else(|| panic!("no {key} in the self test:\n{text}"));
        let steps: Vec<&str> = section.split_inclusive('\n').collect();
        assert!(steps.len() >= 4, "{key}: generate, identify, sign, delete:\n{section}");
        assert!(steps.iter().all(|l| l.trim().is_empty() || l.contains("... OK")), "{key}:\n{section}");
    }
    for refused in ["512-bit RSA key... Failed", "Generating ED448 key... Failed"] {
        assert!(text.contains(refused), "{refused}:\n{text}");
    }
    assert!(text.contains("Generating 1024 bytes of random data... OK"), "{text}");

    // Keys as OpenDNSSEC's enforcer makes them, and their DNSKEY records.
    let generate = |args: &[&str]| {
        let out = run_ok(ods().arg("generate").arg("oxihsm").args(args));
        let id = out.lines().find_map(|l| l.strip_prefix("Key generation successful: ")).map(str::trim);
        id.unwrap_or_else(|| panic!("{out}")).to_string()
    };
    let zsk = generate(&["rsa", "1024"]);
    let ksk = generate(&["ecdsa", "256"]);
    let listed = run_ok(ods().args(["list", "oxihsm"]));
    assert!(listed.contains(&format!("{zsk}  RSA/1024")), "{listed}");
    assert!(listed.contains(&format!("{ksk}  ECDSA/256")), "{listed}");
    let record = |id: &str, flags: &str, alg: &str| {
        let rr = run_ok(ods().args(["dnskey", id, "example.org.", flags, alg]));
        let fields: Vec<&str> = rr.split_whitespace().collect();
        assert_eq!(fields[..7], ["example.org.", "3600", "IN", "DNSKEY", flags, "3", alg], "{rr}");
        std::fs::write(d.join("key.b64"), fields[7]).unwrap();
        run_ok(tool("openssl").current_dir(d).args(["base64", "-d", "-A", "-in", "key.b64", "-out", "key.bin"]));
        std::fs::read(d.join("key.bin")).unwrap()
    };
    let p = h.ctx();
    let slot = p.get_slots_with_token().unwrap()[0];
    let s = p.open_ro_session(slot).unwrap();
    let public = |id: &str, ty: AttributeType| {
        let found = s.find_objects(&[Attribute::Class(ObjectClass::PUBLIC_KEY), Attribute::Id(unhex(id))]).unwrap();
        assert_eq!(found.len(), 1);
        match s.get_attributes(found[0], &[ty]).unwrap().pop() {
            Some(Attribute::Modulus(v) | Attribute::PublicExponent(v) | Attribute::EcPoint(v)) => v,
            other => panic!("{other:?}"),
        }
    };
    // RFC 3110: the exponent's length, the exponent, the modulus.
    let (n, e) = (public(&zsk, AttributeType::Modulus), public(&zsk, AttributeType::PublicExponent));
    assert_eq!(n.len(), 128);
    let mut rsa = vec![e.len() as u8];
    rsa.extend_from_slice(&e);
    rsa.extend_from_slice(&n);
    assert_eq!(record(&zsk, "256", "8"), rsa);
    // RFC 6605: X and Y, without the DER OCTET STRING and the 04 of CKA_EC_POINT.
    let point = public(&ksk, AttributeType::EcPoint);
    assert_eq!(record(&ksk, "257", "13"), point[point.len() - 64..]);

    run_ok(ods().args(["remove", &zsk]));
    let listed = run_ok(ods().args(["list", "oxihsm"]));
    assert!(!listed.contains(&zsk) && listed.contains(&ksk), "{listed}");
    run_ok(ods().args(["-f", "purge", "oxihsm"]));
    assert!(run_ok(ods().args(["list", "oxihsm"])).contains("0 keys found"));
}

/// OpenSSH: `ssh-keygen -D` lists the token's public keys; an `ssh-agent` holding the token
/// (`ssh-add -s`, the PIN from an askpass program) signs with both keys for
/// `ssh-keygen -Y sign` (RSA as rsa-sha2-512 over CKM_RSA_PKCS, ECDSA over CKM_ECDSA); OpenSSH
/// verifies the signatures with the listed public keys, and refuses them for other data.
#[test]
fn openssh_agent_signs_with_token_keys() {
    let h = Harness::new();
    token(&h);
    let d = h.dir.path();
    let listed = run_ok(tool("ssh-keygen").arg("-D").arg(&h.lib).envs(h.env()));
    let keys: Vec<&str> = listed.lines().collect();
    assert!(
        keys.len() == 2 && keys[0].starts_with("ssh-rsa ") && keys[1].starts_with("ecdsa-sha2-nistp256 "),
        "{listed}"
    );

    let askpass = d.join("askpass");
    std::fs::write(&askpass, format!("#!/bin/sh\necho {USER_PIN}\n")).unwrap();
    run_ok(Command::new("chmod").arg("755").arg(&askpass));
    let sock = d.join("agent.sock");
    let allowed = format!("{}/*", h.lib.parent().unwrap().display());
    let agent = tool("ssh-agent")
        .arg("-D")
        .arg("-a")
        .arg(&sock)
        .args(["-P", &allowed])
        .envs(h.env())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let _agent = Server(agent);
    for _ in 0..100 {
        if sock.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let ssh = |name: &str| {
        let mut c = tool(name);
        c.current_dir(d)
            .env("SSH_AUTH_SOCK", &sock)
            .env("SSH_ASKPASS", &askpass)
            .env("SSH_ASKPASS_REQUIRE", "force")
            .env("DISPLAY", ":0")
            .stdin(Stdio::null());
        c
    };
    run_ok(ssh("ssh-add").arg("-s").arg(&h.lib));
    let held = run_ok(ssh("ssh-add").arg("-L"));
    for key in &keys {
        let blob = key.split_whitespace().nth(1).unwrap();
        assert!(held.contains(blob), "the agent holds {key}:\n{held}");
    }

    std::fs::write(d.join("data"), b"a file signed by a key in the token\n").unwrap();
    std::fs::write(d.join("other"), b"another file\n").unwrap();
    for (i, key) in keys.iter().enumerate() {
        let (public, sig) = (format!("key{i}.pub"), "data.sig");
        std::fs::write(d.join(&public), format!("{key}\n")).unwrap();
        std::fs::write(d.join("signers"), format!("me {key}\n")).unwrap();
        let _ = std::fs::remove_file(d.join(sig));
        run_ok(ssh("ssh-keygen").args(["-Y", "sign", "-f", &public, "-n", "file", "data"]));
        let verify = |data: &str| {
            ssh("ssh-keygen")
                .args(["-Y", "verify", "-f", "signers", "-I", "me", "-n", "file", "-s", sig])
                .stdin(std::fs::File::open(d.join(data)).unwrap())
                .output()
                .unwrap()
        };
        let good = verify("data");
        assert!(good.status.success() && String::from_utf8_lossy(&good.stdout).contains("Good"), "{key}: {good:?}");
        assert!(!verify("other").status.success(), "{key}: a signature of other data");
    }
}

/// pkcs11-helper's pkcs11-data (Debian: pkcs11-data), the data-object tool of the library
/// OpenVPN and others build on: token ids, private and public data objects imported,
/// listed, exported and removed, checked through the ABI.
#[test]
fn pkcs11_helper_data_objects() {
    use cryptoki::object::{Attribute, AttributeType, ObjectClass};
    let h = Harness::new();
    token(&h);
    let d = h.dir.path();
    // pkcs11-helper asks a program for the PIN.
    let prompt = d.join("pin.sh");
    std::fs::write(&prompt, format!("#!/bin/sh\necho {USER_PIN}\n")).unwrap();
    std::fs::set_permissions(&prompt, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let data = |args: &[&str]| {
        let mut c = tool("pkcs11-data");
        c.current_dir(d).envs(h.env()).arg(format!("--add-provider={}", h.lib.display()));
        c.arg(format!("--prompt-prog={}", prompt.display())).args(args);
        run_ok(&mut c)
    };
    let tokens = data(&["--cmd=tokens"]);
    let line = tokens.lines().find(|l| l.contains(&format!("label='{TOKEN}'"))).expect(&tokens);
    let id = line.rsplit("id='").next().unwrap().trim_end_matches('\'').to_string();
    let token = format!("--token={id}");
    let secret = "a private note, 32 bytes or so..";
    std::fs::write(d.join("note"), secret).unwrap();
    std::fs::write(d.join("public"), "a public note").unwrap();
    data(&["--cmd=import", &token, "--application=app", "--label=note", "--file=note"]);
    data(&["--public", "--cmd=import", &token, "--application=app", "--label=open", "--file=public"]);
    let listed = data(&["--cmd=list", &token]);
    assert!(listed.contains("A=app, L=note") && listed.contains("A=app, L=open"), "{listed}");
    // Without a login only the public one is seen.
    let public = data(&["--public", "--cmd=list", &token]);
    assert!(public.contains("A=app, L=open") && !public.contains("L=note"), "{public}");
    assert_eq!(data(&["--cmd=export", &token, "--application=app", "--label=note"]), secret);

    // What pkcs11-data made, as the token holds it.
    let p = h.ctx();
    let slot = p.get_slots_with_token().unwrap()[0];
    let s = user_session(&p, slot);
    let found = s.find_objects(&[Attribute::Class(ObjectClass::DATA), Attribute::Label(b"note".to_vec())]).unwrap();
    assert_eq!(found.len(), 1);
    let attrs = s
        .get_attributes(
            found[0],
            &[AttributeType::Token, AttributeType::Private, AttributeType::Application, AttributeType::Value],
        )
        .unwrap();
    assert_eq!(
        attrs,
        [
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Application(b"app".to_vec()),
            Attribute::Value(secret.as_bytes().to_vec()),
        ]
    );
    drop(s);
    p.finalize().unwrap();

    data(&["--cmd=remove", &token, "--application=app", "--label=note"]);
    let listed = data(&["--cmd=list", &token]);
    assert!(!listed.contains("L=note") && listed.contains("L=open"), "{listed}");
}
