//! `oxihsm demo`: the Quick start. Creates (or reuses) a store in a local directory,
//! initialises a token there, and through liboxihsm.so stores a data object and an AES key,
//! reads them back, shows that the key's value is sensitive, and prints what to try next.

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;
use std::path::{Path, PathBuf};

const LABEL: &str = "oxihsm-demo";
const SO_PIN: &str = "demo-so-pin";
const USER_PIN: &str = "demo-user-pin";

use crate::Result;

fn ck<T>(what: &str, r: cryptoki::error::Result<T>) -> Result<T> {
    r.map_err(|e| format!("{what}: {e}"))
}

/// The liboxihsm.so built beside this binary.
fn module_path() -> Result<PathBuf> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find myself: {e}"))?;
    let lib = exe.with_file_name("liboxihsm.so");
    if !lib.exists() {
        return Err(format!("{} not found: build with `cargo build --release`", lib.display()));
    }
    Ok(lib)
}

pub fn run(dir: &Path) -> Result<()> {
    let dir = dir.to_path_buf();
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let dir = dir.canonicalize().map_err(|e| format!("{}: {e}", dir.display()))?;
    let conf = dir.join("oxihsm.toml");
    if !conf.exists() {
        let text = format!("# oxihsm demo store\ntoken_dir = \"{}\"\n", dir.join("tokens").display());
        std::fs::write(&conf, text).map_err(|e| format!("{}: {e}", conf.display()))?;
    }
    // The module reads OXIHSM_CONF when it is initialised: run the demo in a child process
    // that has it set, rather than changing this process's environment.
    if std::env::var_os("OXIHSM_CONF").is_none_or(|v| Path::new(&v) != conf) {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let status = std::process::Command::new(exe)
            .arg("demo")
            .arg("--dir")
            .arg(&dir)
            .env("OXIHSM_CONF", &conf)
            .status()
            .map_err(|e| e.to_string())?;
        return if status.success() { Ok(()) } else { Err("demo failed".into()) };
    }
    demo(&conf)
}

fn demo(conf: &Path) -> Result<()> {
    let lib = module_path()?;
    println!("module:  {}", lib.display());
    println!("config:  {}", conf.display());
    let p11 = ck("load module", Pkcs11::new(&lib))?;
    ck("C_Initialize", p11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)))?;
    let info = ck("C_GetInfo", p11.get_library_info())?;
    println!("library: {} {}", info.manufacturer_id(), info.library_description());

    // Find our token, or initialise the spare one.
    let mut slot = None;
    for s in ck("C_GetSlotList", p11.get_slots_with_initialized_token())? {
        if ck("C_GetTokenInfo", p11.get_token_info(s))?.label() == LABEL {
            slot = Some(s);
        }
    }
    let slot = match slot {
        Some(s) => {
            println!("token:   '{LABEL}' found in slot {}", s.id());
            s
        }
        None => {
            let spare = *ck("C_GetSlotList", p11.get_all_slots())?.last().ok_or("no slot")?;
            ck("C_InitToken", p11.init_token(spare, &AuthPin::new(SO_PIN.into()), LABEL))?;
            let so = ck("C_OpenSession", p11.open_rw_session(spare))?;
            ck("C_Login(SO)", so.login(UserType::So, Some(&AuthPin::new(SO_PIN.into()))))?;
            ck("C_InitPIN", so.init_pin(&AuthPin::new(USER_PIN.into())))?;
            drop(so);
            println!("token:   '{LABEL}' initialised in slot {} (SO PIN {SO_PIN}, user PIN {USER_PIN})", spare.id());
            spare
        }
    };
    let t = ck("C_GetTokenInfo", p11.get_token_info(slot))?;
    println!("serial:  {}", t.serial_number());

    let s = ck("C_OpenSession", p11.open_rw_session(slot))?;
    ck("C_Login(User)", s.login(UserType::User, Some(&AuthPin::new(USER_PIN.into()))))?;
    // Start from a clean slate on re-runs.
    for label in ["demo-note", "demo-aes-key"] {
        for o in ck("C_FindObjects", s.find_objects(&[Attribute::Label(label.as_bytes().to_vec())]))? {
            ck("C_DestroyObject", s.destroy_object(o))?;
        }
    }

    let note = b"Hello from oxihsm: this data object lives in the token store.".to_vec();
    let data = ck(
        "C_CreateObject(data)",
        s.create_object(&[
            Attribute::Class(ObjectClass::DATA),
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Label(b"demo-note".to_vec()),
            Attribute::Application(b"oxihsm demo".to_vec()),
            Attribute::Value(note.clone()),
        ]),
    )?;
    let key_bytes = ck("C_GenerateRandom", s.generate_random_vec(32))?;
    let key = ck(
        "C_CreateObject(AES key)",
        s.create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Token(true),
            Attribute::Label(b"demo-aes-key".to_vec()),
            Attribute::Id(vec![0x01]),
            Attribute::Value(key_bytes),
        ]),
    )?;
    println!("stored:  data object 'demo-note' (handle {data}) and AES-256 key 'demo-aes-key' (handle {key})");

    let found = ck("C_FindObjects", s.find_objects(&[Attribute::Label(b"demo-note".to_vec())]))?;
    let back = ck("C_GetAttributeValue", s.get_attributes(found[0], &[AttributeType::Value]))?;
    if back != [Attribute::Value(note.clone())] {
        return Err("read back a different value".into());
    }
    println!("read:    '{}'", String::from_utf8_lossy(&note));
    let digest = ck("C_Digest", s.digest(&Mechanism::Sha256, &note))?;
    println!("sha256:  {}", digest.iter().map(|b| format!("{b:02x}")).collect::<String>());

    let flags = ck(
        "C_GetAttributeValue",
        s.get_attributes(key, &[AttributeType::Sensitive, AttributeType::Extractable, AttributeType::UniqueId]),
    )?;
    let mut shown = Vec::new();
    for a in &flags {
        match a {
            Attribute::Sensitive(b) => shown.push(format!("CKA_SENSITIVE={b}")),
            Attribute::Extractable(b) => shown.push(format!("CKA_EXTRACTABLE={b}")),
            Attribute::UniqueId(u) => shown.push(format!("CKA_UNIQUE_ID={}", String::from_utf8_lossy(u))),
            _ => {}
        }
    }
    println!("key:     {}", shown.join(" "));
    match s.get_attributes(key, &[AttributeType::Value]) {
        Ok(v) if v.is_empty() => {
            println!("key:     CKA_VALUE is not revealed (CKR_ATTRIBUTE_SENSITIVE)")
        }
        Err(CkError::Pkcs11(RvError::AttributeSensitive, _)) => {
            println!("key:     CKA_VALUE is not revealed (CKR_ATTRIBUTE_SENSITIVE)")
        }
        other => return Err(format!("the key's value must be sensitive, got {other:?}")),
    }
    drop(s);
    ck("C_Finalize", p11.finalize())?;

    println!();
    println!("Try next:");
    println!(
        "  OXIHSM_CONF={} pkcs11-tool --module {} --token-label {LABEL} --login --pin {USER_PIN} --list-objects",
        conf.display(),
        lib.display()
    );
    Ok(())
}
