//! `softhsm2-util` for oxihsm (issue 6): SoftHSMv2's tool, same flags, same messages and exit
//! codes, driving liboxihsm.so through the PKCS#11 ABI (or another module with --module).
//! Scripts written for SoftHSMv2 run unchanged with this one first in PATH.
#![forbid(unsafe_code)]

#[path = "../src/bin/shared/p11.rs"]
mod p11;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::object::{Attribute, KeyType, ObjectClass};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use oxihsm::crypto::ec::Pkcs8Key;
use oxihsm::crypto::keyfile;
use std::path::PathBuf;
use std::process::ExitCode;
use zeroize::Zeroizing;

const HELP: &str = "Support tool for PKCS#11
Usage: softhsm2-util [ACTION] [OPTIONS]
Action:
  --delete-token    Delete the token at a given slot.
                    Use with --token or --serial.
                    WARNING: Any content in token will be erased.
  -h                Shows this help screen.
  --help            Shows this help screen.
  --import <path>   Import a key pair from the given path.
                    The file must be in PKCS#8-format.
                    Use with --slot or --token or --serial, --file-pin,
                    --label, --id, --no-public-key, and --pin.
  --init-token      Initialize the token at a given slot.
                    Use with --slot or --token or --serial or --free,
                    --label, --so-pin, and --pin.
                    WARNING: Any content in token will be erased.
  --show-slots      Display all the available slots.
  --show-config     Display the configuration in effect (oxihsm).
  -v                Show version info.
  --version         Show version info.
Options:
  --aes             Used to tell import to use file as is and import it as AES.
  --import-type <t> keypair (default), aes or cert.
  --file-pin <PIN>  Supply a PIN if the file is encrypted.
  --force           Used to override a warning.
  --free            Use the first free/uninitialized token.
  --id <hex>        Defines the ID of the object. Hexadecimal characters.
                    Use with --force if multiple key pairs may share
                    the same ID.
  --label <text>    Defines the label of the object or the token.
  --module <path>   Use another PKCS#11 library than oxihsm.
  --no-public-key   Do not import the public key.
  --pin <PIN>       The PIN for the normal user.
  --serial <number> Will use the token with a matching serial number.
  --slot <number>   The slot where the token is located.
  --so-pin <PIN>    The PIN for the Security Officer (SO).
  --token <label>   Will use the token with a matching token label.
";

#[derive(Default)]
struct Opts {
    action: Option<&'static str>,
    import_path: Option<PathBuf>,
    import_type: Option<String>,
    file_pin: Option<Zeroizing<String>>,
    force: bool,
    free: bool,
    id: Option<String>,
    label: Option<String>,
    module: Option<PathBuf>,
    no_public_key: bool,
    pin: Option<Zeroizing<String>>,
    serial: Option<String>,
    slot: Option<String>,
    so_pin: Option<Zeroizing<String>>,
    token: Option<String>,
}

/// An error already reported; the exit status is 1, as SoftHSMv2's.
struct Failed;

type Res<T> = std::result::Result<T, Failed>;

fn fail<T>(msg: impl AsRef<str>) -> Res<T> {
    eprintln!("{}", msg.as_ref());
    Err(Failed)
}

fn ck<T>(what: &str, r: cryptoki::error::Result<T>) -> Res<T> {
    match r {
        Ok(v) => Ok(v),
        Err(CkError::Pkcs11(rv, _)) => fail(format!("ERROR: {what}: {}", p11::ckr_name(rv))),
        Err(e) => fail(format!("ERROR: {what}: {e}")),
    }
}

fn parse(args: &[String]) -> Res<Opts> {
    let mut o = Opts::default();
    let mut it = args.iter();
    let set_action = |o: &mut Opts, a: &'static str| o.action = Some(a);
    while let Some(a) = it.next() {
        let mut value = |name: &str| -> Res<String> {
            match it.next() {
                Some(v) => Ok(v.clone()),
                None => fail(format!("ERROR: option {name} requires an argument")),
            }
        };
        match a.as_str() {
            "-h" | "--help" => set_action(&mut o, "help"),
            "-v" | "--version" => set_action(&mut o, "version"),
            "--show-slots" => set_action(&mut o, "show-slots"),
            "--show-config" => set_action(&mut o, "show-config"),
            "--init-token" => set_action(&mut o, "init-token"),
            "--delete-token" => set_action(&mut o, "delete-token"),
            "--import" => {
                o.import_path = Some(PathBuf::from(value("--import")?));
                set_action(&mut o, "import");
            }
            "--aes" => o.import_type = Some("aes".into()),
            "--import-type" => o.import_type = Some(value("--import-type")?),
            "--file-pin" => o.file_pin = Some(Zeroizing::new(value("--file-pin")?)),
            "--force" => o.force = true,
            "--free" => o.free = true,
            "--id" => o.id = Some(value("--id")?),
            "--label" => o.label = Some(value("--label")?),
            "--module" => o.module = Some(PathBuf::from(value("--module")?)),
            "--no-public-key" => o.no_public_key = true,
            "--pin" => o.pin = Some(Zeroizing::new(value("--pin")?)),
            "--serial" => o.serial = Some(value("--serial")?),
            "--slot" => o.slot = Some(value("--slot")?),
            "--so-pin" => o.so_pin = Some(Zeroizing::new(value("--so-pin")?)),
            "--token" => o.token = Some(value("--token")?),
            _ => {
                // As SoftHSMv2: a complaint, the usage, and success.
                eprintln!("softhsm2-util: unrecognized option '{a}'");
                o.action = Some("help");
                return Ok(o);
            }
        }
    }
    Ok(o)
}

fn module(o: &Opts) -> Res<Pkcs11> {
    let path = match &o.module {
        Some(p) => p.clone(),
        None => match std::env::current_exe() {
            Ok(exe) => exe.with_file_name("liboxihsm.so"),
            Err(e) => return fail(format!("ERROR: Could not find the PKCS#11 library: {e}")),
        },
    };
    let p = match Pkcs11::new(&path) {
        Ok(p) => p,
        Err(e) => return fail(format!("ERROR: Could not load the PKCS#11 library/module: {e}")),
    };
    ck(
        "Could not initialize the PKCS#11 library/module",
        p.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)),
    )?;
    Ok(p)
}

/// A PIN from the option, or asked for twice (as SoftHSMv2 does) on the terminal.
fn get_pin(given: &Option<Zeroizing<String>>, who: &str, confirm: bool) -> Res<Zeroizing<String>> {
    let ok = |p: &str| (4..=255).contains(&p.len());
    if let Some(p) = given
        && ok(p)
    {
        return Ok(p.clone());
    }
    println!("=== {who} PIN (4-255 characters) ===");
    for _ in 0..3 {
        let Ok(p) = rpassword::prompt_password(format!("Please enter {who} PIN: ")).map(Zeroizing::new) else {
            return fail(format!("ERROR: Could not get {who} PIN"));
        };
        if !ok(&p) {
            continue;
        }
        if confirm {
            let Ok(q) = rpassword::prompt_password(format!("Please reenter {who} PIN: ")).map(Zeroizing::new) else {
                return fail(format!("ERROR: Could not get {who} PIN"));
            };
            if *q != *p {
                println!("ERROR: The entered PINs are not equal.");
                continue;
            }
        }
        return Ok(p);
    }
    fail(format!("ERROR: Could not get {who} PIN"))
}

fn auth(p: &str) -> AuthPin {
    AuthPin::new(p.into())
}

/// The slot `--slot`, `--token` or `--serial` names (SoftHSMv2's messages).
fn find_slot(p: &Pkcs11, o: &Opts, what: &str) -> Res<Slot> {
    let all = ck("C_GetSlotList", p.get_all_slots())?;
    if let Some(s) = &o.slot {
        let Ok(n) = s.parse::<u64>() else { return fail(format!("ERROR: invalid slot number {s}")) };
        return match all.into_iter().find(|x| x.id() == n) {
            Some(x) => Ok(x),
            None => fail(format!("CKR_SLOT_ID_INVALID: Slot {n} does not exist.")),
        };
    }
    let mut hits = Vec::new();
    for s in all {
        let t = ck("C_GetTokenInfo", p.get_token_info(s))?;
        if !t.token_initialized() {
            continue;
        }
        if let Some(l) = &o.token
            && t.label() == l
        {
            println!("Found slot {} with matching token label.", s.id());
            hits.push(s);
        } else if let Some(n) = &o.serial
            && t.serial_number() == n
        {
            println!("Found slot {} with matching serial.", s.id());
            hits.push(s);
        }
    }
    match hits.len() {
        1 => Ok(hits[0]),
        0 => fail(format!("ERROR: Could not find a slot/token using --serial, or --token{what}")),
        _ => fail("ERROR: Found multiple matching slots/tokens."),
    }
}

fn show_slots(o: &Opts) -> Res<()> {
    let p = module(o)?;
    println!("Available slots:");
    for s in ck("C_GetSlotList", p.get_all_slots())? {
        let si = ck("C_GetSlotInfo", p.get_slot_info(s))?;
        let t = ck("C_GetTokenInfo", p.get_token_info(s))?;
        let hw = si.hardware_version();
        let fw = si.firmware_version();
        println!("Slot {}", s.id());
        println!("    Slot info:");
        println!("        Description:      {:<64}", si.slot_description());
        println!("        Manufacturer ID:  {:<32}", si.manufacturer_id());
        println!("        Hardware version: {}.{}", hw.major(), hw.minor());
        println!("        Firmware version: {}.{}", fw.major(), fw.minor());
        println!("        Token present:    {}", if si.token_present() { "yes" } else { "no" });
        println!("    Token info:");
        println!("        Manufacturer ID:  {:<32}", t.manufacturer_id());
        println!("        Model:            {:<16}", t.model());
        println!("        Hardware version: {}.{}", t.hardware_version().major(), t.hardware_version().minor());
        println!("        Firmware version: {}.{}", t.firmware_version().major(), t.firmware_version().minor());
        println!("        Serial number:    {:<16}", t.serial_number());
        println!("        Initialized:      {}", if t.token_initialized() { "yes" } else { "no" });
        println!("        User PIN init.:   {}", if t.user_pin_initialized() { "yes" } else { "no" });
        println!("        Label:            {:<32}", t.label());
    }
    Ok(())
}

fn init_token(o: &Opts) -> Res<()> {
    let Some(label) = &o.label else {
        return fail("ERROR: A label for the token must be supplied. Use --label <text>");
    };
    if label.len() > 32 {
        return fail("ERROR: The token label must not have a length greater than 32 chars.");
    }
    let p = module(o)?;
    let slot = if o.free {
        let mut free = None;
        for s in ck("C_GetSlotList", p.get_all_slots())? {
            if !ck("C_GetTokenInfo", p.get_token_info(s))?.token_initialized() {
                free = Some(s);
                break;
            }
        }
        let Some(s) = free else { return fail("ERROR: Could not find a free/uninitialized token.") };
        println!("Slot {} has a free/uninitialized token.", s.id());
        s
    } else if o.slot.is_none() && o.token.is_none() && o.serial.is_none() {
        return fail(
            "ERROR: A slot/token must be supplied. Use --slot <number>, --serial <serial>, --token <label>, or --free",
        );
    } else {
        find_slot(&p, o, "")?
    };
    let so = get_pin(&o.so_pin, "SO", true)?;
    let user = get_pin(&o.pin, "user", true)?;
    ck("Could not initialize the token", p.init_token(slot, &auth(&so), label))?;
    let s = ck("Could not open a session with the library", p.open_rw_session(slot))?;
    ck("Could not log in on the token", s.login(UserType::So, Some(&auth(&so))))?;
    ck("Could not initialize the user PIN", s.init_pin(&auth(&user)))?;
    println!("The token has been initialized and is reassigned to slot {}", slot.id());
    Ok(())
}

fn delete_token(o: &Opts) -> Res<()> {
    if o.token.is_none() && o.serial.is_none() {
        return fail("ERROR: A token must be supplied. Use --serial <serial> or --token <label>");
    }
    let p = module(o)?;
    let mut hits = Vec::new();
    for s in ck("C_GetSlotList", p.get_slots_with_initialized_token())? {
        let t = ck("C_GetTokenInfo", p.get_token_info(s))?;
        if o.token.as_deref().is_some_and(|l| l == t.label())
            || o.serial.as_deref().is_some_and(|n| n == t.serial_number())
        {
            println!(
                "Found token ({}) with matching token {}.",
                t.serial_number(),
                if o.serial.is_some() { "serial" } else { "label" }
            );
            hits.push(t.serial_number().to_string());
        }
    }
    drop(p);
    let serial = match hits.len() {
        1 => hits.remove(0),
        0 => return fail("ERROR: Could not find a token using --serial or --token."),
        _ => return fail("ERROR: Found multiple matching tokens."),
    };
    let config = match oxihsm::config::Config::from_env() {
        Ok(c) => c,
        Err(e) => return fail(format!("ERROR: {e}")),
    };
    match oxihsm::store::sqlite::delete_token(&config.token_dir, &serial) {
        Ok(true) => {
            println!("The token (serial {serial}) has been deleted.");
            Ok(())
        }
        Ok(false) => fail("ERROR: Could not find a token using --serial or --token."),
        Err(e) => fail(format!("ERROR: Could not delete the token: {e}")),
    }
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.is_empty() {
        return None;
    }
    p11::unhex(s)
}

fn to_cryptoki(attrs: &[oxihsm::object::Attribute]) -> Res<Vec<Attribute>> {
    p11::to_cryptoki(attrs).or_else(|e| fail(format!("ERROR: {e}")))
}

fn import(o: &Opts) -> Res<()> {
    let path = o.import_path.clone().expect("set with the action");
    let kind = o.import_type.as_deref().unwrap_or("keypair");
    if !matches!(kind, "keypair" | "aes" | "cert") {
        return fail(format!("ERROR: --import-type {kind}: use keypair, aes or cert"));
    }
    // SoftHSMv2's order of checks, so that scripts see the same first error.
    let p = module(o)?;
    if o.slot.is_none() && o.token.is_none() && o.serial.is_none() {
        return fail(
            "ERROR: A slot/token must be supplied. Use --slot <number>, --serial <serial>, or --token <label>",
        );
    }
    let slot = find_slot(&p, o, "")?;
    let Some(label) = &o.label else {
        return fail("ERROR: A label for the object must be supplied. Use --label <text>");
    };
    let Some(id_hex) = &o.id else { return fail("ERROR: An ID for the object must be supplied. Use --id <hex>") };
    let Some(id) = unhex(id_hex) else { return fail("ERROR: Invalid ID. Use hexadecimal characters, e.g. --id 01AB") };
    let Ok(data) = std::fs::read(&path).map(Zeroizing::new) else {
        return fail(format!("ERROR: Could open the PKCS#8 file: {}", path.display()));
    };
    let user = get_pin(&o.pin, "user", false)?;
    let s = ck("Could not open a session with the library", p.open_rw_session(slot))?;
    match s.login(UserType::User, Some(&auth(&user))) {
        Ok(()) => {}
        Err(CkError::Pkcs11(RvError::PinIncorrect, _)) => {
            return fail("ERROR: The given user PIN does not match the one in the token.");
        }
        Err(e) => return ck("Could not log in on the token", Err(e)),
    }
    if !o.force && !ck("C_FindObjects", s.find_objects(&[Attribute::Id(id.clone())]))?.is_empty() {
        return fail("ERROR: The ID is already assigned to another object. Use --force to override this message.");
    }
    let common = vec![Attribute::Token(true), Attribute::Label(label.clone().into_bytes()), Attribute::Id(id)];
    match kind {
        "aes" => {
            if !matches!(data.len(), 16 | 24 | 32) {
                return fail("ERROR: The AES key must be 16, 24 or 32 bytes (128, 192 or 256 bits).");
            }
            let mut t = common;
            t.extend([
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::AES),
                Attribute::Private(true),
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
                Attribute::Encrypt(true),
                Attribute::Decrypt(true),
                Attribute::Wrap(true),
                Attribute::Unwrap(true),
                // SoftHSMv2's keys derive only when asked (oxihsm's module defaults every
                // usage a key type has to TRUE): the same key as SoftHSMv2's tool makes.
                Attribute::Derive(false),
                Attribute::Value(data.to_vec()),
            ]);
            // SoftHSMv2 says nothing on success here; scripts may compare output.
            ck("Could not save the secret key in the token", s.create_object(&t))?;
        }
        "cert" => {
            let der = keyfile::pem_blocks(&data).into_iter().find(|(l, _)| l == "CERTIFICATE").map(|(_, d)| d.to_vec());
            let der = der.unwrap_or_else(|| data.to_vec());
            let Ok(c) = keyfile::parse_certificate(&der) else {
                return fail(format!("ERROR: Could not read the certificate: {}", path.display()));
            };
            let mut t = common;
            t.extend(p11::certificate_attrs(der, c));
            ck("Could not save the certificate in the token", s.create_object(&t))?;
            println!("The certificate has been imported.");
        }
        _ => {
            let Some(key) = read_private(&data, o.file_pin.as_deref().map(String::as_str)) else {
                return fail(
                    "ERROR: Could not read the private key. File format: PKCS#8 (encrypted ones need --file-pin)",
                );
            };
            import_pair(&s, key, common, o.no_public_key)?;
            println!("The key pair has been imported.");
        }
    }
    Ok(())
}

fn read_private(data: &[u8], file_pin: Option<&str>) -> Option<Pkcs8Key> {
    let blocks = keyfile::pem_blocks(data);
    let ders: Vec<(String, Zeroizing<Vec<u8>>)> =
        if blocks.is_empty() { vec![(String::new(), Zeroizing::new(data.to_vec()))] } else { blocks };
    for (label, der) in ders {
        if label == "ENCRYPTED PRIVATE KEY" || (label.is_empty() && file_pin.is_some()) {
            if let Some(pin) = file_pin
                && let Ok(k) = keyfile::parse_encrypted_pkcs8(&der, pin.as_bytes())
            {
                return Some(k);
            }
            continue;
        }
        if let Ok(k) = keyfile::parse_private(&der) {
            return Some(k);
        }
    }
    None
}

fn import_pair(s: &Session, key: Pkcs8Key, common: Vec<Attribute>, no_public: bool) -> Res<()> {
    // As SoftHSMv2: a public key object for RSA (which may also wrap) and EC key pairs.
    let public = match &key {
        Pkcs8Key::Rsa(_) | Pkcs8Key::Ec(..) => {
            let k = p11::public_of(&key).or_else(|e| fail(format!("ERROR: {e}")))?;
            let mut t = p11::public_attrs(&k);
            if matches!(key, Pkcs8Key::Rsa(_)) {
                t.push(Attribute::Wrap(true));
            }
            Some(t)
        }
        _ => None,
    };
    let (kt, material) = oxihsm::mechanism::wrap::key_material(key);
    let Ok(key_type) = KeyType::try_from(kt) else { return fail("ERROR: unsupported key type") };
    let mut t = common.clone();
    t.extend([
        Attribute::Class(ObjectClass::PRIVATE_KEY),
        Attribute::KeyType(key_type),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Sign(true),
        // As SoftHSMv2's tool: no derivation unless asked (an EC key would have it here).
        Attribute::Derive(false),
    ]);
    if kt == cryptoki_sys::CKK_RSA {
        t.extend([Attribute::Decrypt(true), Attribute::Unwrap(true)]);
    }
    t.extend(to_cryptoki(&material)?);
    ck("Could not save the private key in the token", s.create_object(&t))?;
    if !no_public && let Some(pubattrs) = public {
        let mut t = common;
        t.extend(pubattrs);
        ck("Could not save the public key in the token", s.create_object(&t))?;
    }
    Ok(())
}

fn show_config() -> Res<()> {
    match oxihsm::config::Config::from_env() {
        Ok(c) => {
            println!("Configuration:   {}", c.source);
            println!("Token directory: {}", c.token_dir.display());
            println!("Store:           {}", c.token_dir.join("oxihsm.db").display());
            for w in &c.warnings {
                println!("Warning:         {w}");
            }
            Ok(())
        }
        Err(e) => fail(format!("ERROR: {e}")),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let r = (|| -> Res<()> {
        let o = parse(&args)?;
        match o.action {
            Some("help") => {
                print!("{HELP}");
                Ok(())
            }
            Some("version") => {
                println!("{}", env!("CARGO_PKG_VERSION"));
                Ok(())
            }
            Some("show-slots") => show_slots(&o),
            Some("show-config") => show_config(),
            Some("init-token") => init_token(&o),
            Some("delete-token") => delete_token(&o),
            Some("import") => import(&o),
            _ => {
                print!("{HELP}");
                Err(Failed)
            }
        }
    })();
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failed) => ExitCode::from(1),
    }
}
