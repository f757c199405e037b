//! Shared helpers for the ABI tests: each test gets its own temporary store and its own copy
//! of the built liboxihsm.so (so tests in one process never share module state), and reaches
//! the module through the `cryptoki` crate or, for hostile input, through raw function calls.
#![allow(dead_code)]

pub mod asymmetric;
pub mod clients;
pub mod symmetric;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub const SO_PIN: &str = "12345678";
pub const USER_PIN: &str = "1234";

/// Whether the module under test offers ML-DSA and ML-KEM: every build but the `fips` one
/// (oxihsm reaches them through AWS-LC functions its FIPS module does not export). Tests
/// that use them in passing leave them out of a `fips` build; `pqc.rs` checks that such a
/// build refuses them.
pub const PQC: bool = cfg!(not(feature = "fips"));

/// Whether the module under test offers mechanism `ty` as far as the build goes: anything
/// but ML-DSA's and ML-KEM's, and those too where [`PQC`].
pub fn offered_by_this_build(ty: cryptoki_sys::CK_MECHANISM_TYPE) -> bool {
    use cryptoki_sys::*;
    let pqc =
        matches!(ty, CKM_ML_DSA_KEY_PAIR_GEN | CKM_ML_DSA | CKM_ML_KEM_KEY_PAIR_GEN | CKM_ML_KEM | CKM_HASH_ML_DSA)
            || (CKM_HASH_ML_DSA_SHA224..=CKM_HASH_ML_DSA_SHAKE256).contains(&ty);
    PQC || !pqc
}

/// The liboxihsm.so cargo built for this test run (target/<profile>/liboxihsm.so).
pub fn built_lib() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe.parent().and_then(Path::parent).expect("target/<profile>");
    let lib = dir.join("liboxihsm.so");
    assert!(lib.exists(), "{} not built", lib.display());
    lib
}

/// The built `oxihsm` binary.
pub fn built_cli() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_oxihsm"))
}

/// Serialises setting OXIHSM_CONF and C_Initialize across the threads of a test process.
static ENV: Mutex<()> = Mutex::new(());

/// A temporary store with a cheap PIN KDF, and a private copy of the library.
pub struct Harness {
    pub dir: tempfile::TempDir,
    pub lib: PathBuf,
    pub conf: PathBuf,
    pub token_dir: PathBuf,
}

impl Harness {
    pub fn new() -> Harness {
        Harness::with_config("")
    }

    /// `extra` is appended to the TOML configuration (top-level keys).
    pub fn with_config(extra: &str) -> Harness {
        let dir = tempfile::tempdir().expect("tempdir");
        let token_dir = dir.path().join("tokens");
        let conf = dir.path().join("oxihsm.toml");
        std::fs::write(
            &conf,
            format!(
                "token_dir = \"{}\"\n{extra}\n[pin_kdf]\nmemory_kib = 64\niterations = 1\nparallelism = 1\n",
                token_dir.display()
            ),
        )
        .expect("write config");
        let lib = dir.path().join("liboxihsm.so");
        std::fs::copy(built_lib(), &lib).expect("copy library");
        Harness { dir, lib, conf, token_dir }
    }

    /// Loads this harness's library copy and initialises it with this store.
    pub fn ctx(&self) -> Pkcs11 {
        let _g = ENV.lock().unwrap_or_else(|p| p.into_inner());
        // SAFETY: serialised by ENV; other test threads read the variable only under it.
        unsafe { std::env::set_var("OXIHSM_CONF", &self.conf) };
        let p = Pkcs11::new(&self.lib).expect("load module");
        p.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)).expect("C_Initialize");
        p
    }

    /// Raw access to the same library copy (same instance as `ctx`).
    pub fn raw(&self) -> cryptoki_sys::Pkcs11 {
        // SAFETY: loading our own library; its initialisers have no preconditions.
        unsafe { cryptoki_sys::Pkcs11::new(&self.lib) }.expect("load module")
    }

    /// Environment for a child process using this store.
    pub fn env(&self) -> Vec<(&'static str, PathBuf)> {
        vec![("OXIHSM_CONF", self.conf.clone())]
    }
}

/// Initialises a token in the spare slot with SO_PIN and USER_PIN and returns its slot.
pub fn init_token(p: &Pkcs11, label: &str) -> Slot {
    let spare = *p.get_all_slots().unwrap().last().unwrap();
    p.init_token(spare, &AuthPin::new(SO_PIN.into()), label).unwrap();
    let s = p.open_rw_session(spare).unwrap();
    s.login(UserType::So, Some(&AuthPin::new(SO_PIN.into()))).unwrap();
    s.init_pin(&AuthPin::new(USER_PIN.into())).unwrap();
    s.logout().unwrap();
    spare
}

/// A logged-in RW user session on `slot`.
pub fn user_session(p: &Pkcs11, slot: Slot) -> Session {
    let s = p.open_rw_session(slot).unwrap();
    s.login(UserType::User, Some(&AuthPin::new(USER_PIN.into()))).unwrap();
    s
}

/// A fresh store with a token `label` and a logged-in RW user session on it.
pub fn user_env(label: &str) -> (Harness, Pkcs11, Session) {
    let h = Harness::new();
    let p = h.ctx();
    let slot = init_token(&p, label);
    let s = user_session(&p, slot);
    (h, p, s)
}

/// A fresh store with a token `label` and a logged-in RW user session on it for raw calls
/// (the session stays open for the test's life).
pub fn raw_user_env(label: &str) -> (Harness, Pkcs11, Slot, RawSession) {
    let h = Harness::new();
    let p = h.ctx();
    let slot = init_token(&p, label);
    let sess = user_session(&p, slot);
    let s = RawSession::new(&h, &sess);
    std::mem::forget(sess);
    (h, p, slot, s)
}

/// A P-256 key pair made in the token (session objects; `private` adds to the private key's
/// template), with its public key for the `p256` crate to verify signatures.
pub fn p256_pair(
    s: &Session,
    private: &[cryptoki::object::Attribute],
) -> (cryptoki::object::ObjectHandle, cryptoki::object::ObjectHandle, p256::ecdsa::VerifyingKey) {
    use cryptoki::object::{Attribute, AttributeType};
    let params = vec![0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    let (public, private) = s
        .generate_key_pair(
            &cryptoki::mechanism::Mechanism::EccKeyPairGen,
            &[Attribute::EcParams(params), Attribute::Verify(true)],
            &[&[Attribute::Sign(true)], private].concat(),
        )
        .unwrap();
    let point = s.get_attributes(public, &[AttributeType::EcPoint]).unwrap();
    let Attribute::EcPoint(der) = &point[0] else { panic!("no CKA_EC_POINT") };
    (public, private, p256::ecdsa::VerifyingKey::from_sec1_bytes(&der[2..]).unwrap())
}

/// The CKR code of a cryptoki error.
pub fn rv<T: std::fmt::Debug>(r: cryptoki::error::Result<T>) -> cryptoki::error::RvError {
    match r {
        Err(cryptoki::error::Error::Pkcs11(rv, _)) => rv,
        other => panic!("expected a PKCS#11 error, got {other:?}"),
    }
}

/// Runs a program, failing clearly when it is not installed.
pub fn tool(name: &str) -> std::process::Command {
    let found =
        std::env::var_os("PATH").map(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file())).unwrap_or(false);
    assert!(found, "`{name}` is not installed: .ci/run installs it (apt-get install opensc / openssl)");
    std::process::Command::new(name)
}

/// Runs a command and returns its stdout, failing with its output when it fails.
pub fn run_ok(cmd: &mut std::process::Command) -> String {
    let out = cmd.output().expect("spawn");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl Harness {
    /// C_Initialize(NULL) through the raw interface, with this store configured.
    pub fn raw_init(&self, raw: &cryptoki_sys::Pkcs11) -> cryptoki_sys::CK_RV {
        self.raw_init_args(raw, std::ptr::null_mut())
    }

    /// C_Initialize with `args` (NULL or a CK_C_INITIALIZE_ARGS), with this store configured.
    pub fn raw_init_args(&self, raw: &cryptoki_sys::Pkcs11, args: *mut std::ffi::c_void) -> cryptoki_sys::CK_RV {
        let _g = ENV.lock().unwrap_or_else(|p| p.into_inner());
        // SAFETY: serialised by ENV.
        unsafe { std::env::set_var("OXIHSM_CONF", &self.conf) };
        // SAFETY: the caller passes NULL or valid init args.
        unsafe { raw.C_Initialize(args) }
    }
}

/// Raw PKCS#11 calls on one session, returning the CK_RV on failure: for tests that need
/// any mechanism parameter or want the exact return code.
pub struct RawSession {
    pub lib: cryptoki_sys::Pkcs11,
    pub h: cryptoki_sys::CK_SESSION_HANDLE,
}

pub type RawResult<T> = Result<T, cryptoki_sys::CK_RV>;

fn ck(rv: cryptoki_sys::CK_RV) -> RawResult<()> {
    if rv == cryptoki_sys::CKR_OK { Ok(()) } else { Err(rv) }
}

/// A CK_MECHANISM pointing at `param` (which must outlive its use).
pub fn mech<T>(ty: cryptoki_sys::CK_MECHANISM_TYPE, param: Option<&mut T>) -> cryptoki_sys::CK_MECHANISM {
    match param {
        Some(p) => cryptoki_sys::CK_MECHANISM {
            mechanism: ty,
            pParameter: (p as *mut T).cast(),
            ulParameterLen: size_of::<T>() as cryptoki_sys::CK_ULONG,
        },
        None => cryptoki_sys::CK_MECHANISM { mechanism: ty, pParameter: std::ptr::null_mut(), ulParameterLen: 0 },
    }
}

impl RawSession {
    pub fn new(h: &Harness, s: &Session) -> RawSession {
        RawSession { lib: h.raw(), h: s.handle() }
    }

    /// Imports a session secret key usable for everything.
    pub fn secret_key(
        &self,
        key_type: cryptoki_sys::CK_KEY_TYPE,
        value: &[u8],
    ) -> RawResult<cryptoki_sys::CK_OBJECT_HANDLE> {
        use cryptoki_sys::*;
        let mut class = CKO_SECRET_KEY;
        let mut kt = key_type;
        let mut v = value.to_vec();
        let mut t = [
            CK_ATTRIBUTE { type_: CKA_CLASS, pValue: (&raw mut class).cast(), ulValueLen: 8 },
            CK_ATTRIBUTE { type_: CKA_KEY_TYPE, pValue: (&raw mut kt).cast(), ulValueLen: 8 },
            CK_ATTRIBUTE { type_: CKA_VALUE, pValue: v.as_mut_ptr().cast(), ulValueLen: v.len() as CK_ULONG },
        ];
        let mut o = 0;
        // SAFETY: the template points at live locals of the lengths given.
        ck(unsafe { self.lib.C_CreateObject(self.h, t.as_mut_ptr(), 3, &mut o) })?;
        Ok(o)
    }

    fn run(
        &self,
        init: impl FnOnce() -> cryptoki_sys::CK_RV,
        mut op: impl FnMut(*mut u8, *mut cryptoki_sys::CK_ULONG) -> cryptoki_sys::CK_RV,
    ) -> RawResult<Vec<u8>> {
        ck(init())?;
        let mut n: cryptoki_sys::CK_ULONG = 0;
        ck(op(std::ptr::null_mut(), &mut n))?;
        let mut out = vec![0u8; n as usize];
        ck(op(out.as_mut_ptr(), &mut n))?;
        out.truncate(n as usize);
        Ok(out)
    }

    /// C_EncryptInit + C_Encrypt (size query, then the call).
    pub fn encrypt(
        &self,
        m: &mut cryptoki_sys::CK_MECHANISM,
        key: cryptoki_sys::CK_OBJECT_HANDLE,
        data: &[u8],
    ) -> RawResult<Vec<u8>> {
        let mut d = data.to_vec();
        // SAFETY: mechanism and buffers are live for the calls.
        self.run(
            || unsafe { self.lib.C_EncryptInit(self.h, m, key) },
            |o, n| unsafe { self.lib.C_Encrypt(self.h, d.as_mut_ptr(), d.len() as _, o, n) },
        )
    }

    /// C_DecryptInit + C_Decrypt.
    pub fn decrypt(
        &self,
        m: &mut cryptoki_sys::CK_MECHANISM,
        key: cryptoki_sys::CK_OBJECT_HANDLE,
        data: &[u8],
    ) -> RawResult<Vec<u8>> {
        let mut d = data.to_vec();
        // SAFETY: mechanism and buffers are live for the calls.
        self.run(
            || unsafe { self.lib.C_DecryptInit(self.h, m, key) },
            |o, n| unsafe { self.lib.C_Decrypt(self.h, d.as_mut_ptr(), d.len() as _, o, n) },
        )
    }

    /// C_SignInit + C_Sign.
    pub fn sign(
        &self,
        m: &mut cryptoki_sys::CK_MECHANISM,
        key: cryptoki_sys::CK_OBJECT_HANDLE,
        data: &[u8],
    ) -> RawResult<Vec<u8>> {
        let mut d = data.to_vec();
        // SAFETY: mechanism and buffers are live for the calls.
        self.run(
            || unsafe { self.lib.C_SignInit(self.h, m, key) },
            |o, n| unsafe { self.lib.C_Sign(self.h, d.as_mut_ptr(), d.len() as _, o, n) },
        )
    }

    /// C_VerifyInit + C_Verify.
    pub fn verify(
        &self,
        m: &mut cryptoki_sys::CK_MECHANISM,
        key: cryptoki_sys::CK_OBJECT_HANDLE,
        data: &[u8],
        sig: &[u8],
    ) -> RawResult<()> {
        let mut d = data.to_vec();
        let mut s = sig.to_vec();
        // SAFETY: mechanism and buffers are live for the calls.
        ck(unsafe { self.lib.C_VerifyInit(self.h, m, key) })?;
        // SAFETY: as above.
        ck(unsafe { self.lib.C_Verify(self.h, d.as_mut_ptr(), d.len() as _, s.as_mut_ptr(), s.len() as _) })
    }

    /// C_EncryptInit (C_DecryptInit unless `encrypt`), one C_*Update per part, then C_*Final,
    /// each into a buffer with 512 bytes to spare: the output, or the first code after the
    /// init that is not CKR_OK.
    pub fn crypt_parts(
        &self,
        m: &mut cryptoki_sys::CK_MECHANISM,
        key: cryptoki_sys::CK_OBJECT_HANDLE,
        encrypt: bool,
        parts: &[&[u8]],
    ) -> RawResult<Vec<u8>> {
        use cryptoki_sys::CK_ULONG;
        let l = &self.lib;
        let mut got = Vec::new();
        // SAFETY: live mechanism, parts and output buffers of the lengths given.
        unsafe {
            let init = if encrypt { l.C_EncryptInit(self.h, m, key) } else { l.C_DecryptInit(self.h, m, key) };
            assert_eq!(init, cryptoki_sys::CKR_OK);
            for part in parts {
                let (p, pl) = (part.as_ptr().cast_mut(), part.len() as CK_ULONG);
                let mut out = vec![0u8; part.len() + 512];
                let mut n = out.len() as CK_ULONG;
                ck(if encrypt {
                    l.C_EncryptUpdate(self.h, p, pl, out.as_mut_ptr(), &mut n)
                } else {
                    l.C_DecryptUpdate(self.h, p, pl, out.as_mut_ptr(), &mut n)
                })?;
                got.extend_from_slice(&out[..n as usize]);
            }
            let mut out = [0u8; 512];
            let mut n = out.len() as CK_ULONG;
            ck(if encrypt {
                l.C_EncryptFinal(self.h, out.as_mut_ptr(), &mut n)
            } else {
                l.C_DecryptFinal(self.h, out.as_mut_ptr(), &mut n)
            })?;
            got.extend_from_slice(&out[..n as usize]);
        }
        Ok(got)
    }

    /// C_DigestInit + C_Digest.
    pub fn digest(&self, m: &mut cryptoki_sys::CK_MECHANISM, data: &[u8]) -> RawResult<Vec<u8>> {
        let mut d = data.to_vec();
        // SAFETY: mechanism and buffers are live for the calls.
        self.run(
            || unsafe { self.lib.C_DigestInit(self.h, m) },
            |o, n| unsafe { self.lib.C_Digest(self.h, d.as_mut_ptr(), d.len() as _, o, n) },
        )
    }
}

/// CK_ECDH1_DERIVE_PARAMS without a KDF, for the peer's public value `peer`.
pub fn ecdh_null(peer: &mut [u8]) -> cryptoki_sys::CK_ECDH1_DERIVE_PARAMS {
    cryptoki_sys::CK_ECDH1_DERIVE_PARAMS {
        kdf: cryptoki_sys::CKD_NULL,
        ulSharedDataLen: 0,
        pSharedData: std::ptr::null_mut(),
        ulPublicDataLen: peer.len() as _,
        pPublicData: peer.as_mut_ptr(),
    }
}

/// Plain CKM_ECDH1_DERIVE (no KDF) of `private` with the peer's `public` into a generic
/// secret that can be read back: its value.
pub fn ecdh(s: &RawSession, private: cryptoki_sys::CK_OBJECT_HANDLE, public: &[u8]) -> RawResult<Vec<u8>> {
    let mut peer = public.to_vec();
    let mut dp = ecdh_null(&mut peer);
    let mut readable = T::secret(cryptoki_sys::CKK_GENERIC_SECRET)
        .flag(cryptoki_sys::CKA_SENSITIVE, false)
        .flag(cryptoki_sys::CKA_EXTRACTABLE, true);
    let k = s.derive(&mut mech(cryptoki_sys::CKM_ECDH1_DERIVE, Some(&mut dp)), private, &mut readable)?;
    s.get_bytes(k, cryptoki_sys::CKA_VALUE)
}

/// CK_GCM_PARAMS over `iv` (its length in bits as ulIvBits) and `aad` (NULL when `None`),
/// with a tag of `tag_bits`.
pub fn gcm_params(iv: &mut [u8], aad: Option<&mut [u8]>, tag_bits: CK_ULONG) -> CK_GCM_PARAMS {
    let (p_aad, aad_len) = match aad {
        Some(a) => (a.as_mut_ptr(), a.len()),
        None => (null_mut(), 0),
    };
    CK_GCM_PARAMS {
        pIv: iv.as_mut_ptr(),
        ulIvLen: iv.len() as CK_ULONG,
        ulIvBits: (iv.len() * 8) as CK_ULONG,
        pAAD: p_aad,
        ulAADLen: aad_len as CK_ULONG,
        ulTagBits: tag_bits,
    }
}

/// AES-256-ECB of whole blocks by RustCrypto's `aes`, to check the token's ciphertexts.
pub fn aes256_ecb(key: &[u8], data: &[u8]) -> Vec<u8> {
    use aes::cipher::{BlockEncrypt, KeyInit};
    let c = aes::Aes256::new(key.into());
    let mut out = data.to_vec();
    for block in out.chunks_mut(16) {
        c.encrypt_block(block.into());
    }
    out
}

/// Lowercase hex.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The bytes of an even-length hex string (either case).
pub fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

use cryptoki_sys::*;
use std::ptr::null_mut;

/// Attribute builder for raw templates; keeps the values alive. The scalars are boxed so
/// the pointers in `attrs` stay valid as the vectors grow.
#[derive(Default)]
#[allow(clippy::vec_box)]
pub struct T {
    ulongs: Vec<Box<cryptoki_sys::CK_ULONG>>,
    bools: Vec<Box<u8>>,
    bytes: Vec<Vec<u8>>,
    pub attrs: Vec<cryptoki_sys::CK_ATTRIBUTE>,
}

impl T {
    pub fn ulong(mut self, ty: CK_ATTRIBUTE_TYPE, v: CK_ULONG) -> T {
        let mut b = Box::new(v);
        self.attrs.push(CK_ATTRIBUTE { type_: ty, pValue: (&raw mut *b).cast(), ulValueLen: 8 });
        self.ulongs.push(b);
        self
    }
    pub fn flag(mut self, ty: CK_ATTRIBUTE_TYPE, v: bool) -> T {
        let mut b = Box::new(v as u8);
        self.attrs.push(CK_ATTRIBUTE { type_: ty, pValue: (&raw mut *b).cast(), ulValueLen: 1 });
        self.bools.push(b);
        self
    }
    pub fn bytes(mut self, ty: CK_ATTRIBUTE_TYPE, v: &[u8]) -> T {
        let mut b = v.to_vec();
        self.attrs.push(CK_ATTRIBUTE { type_: ty, pValue: b.as_mut_ptr().cast(), ulValueLen: b.len() as CK_ULONG });
        self.bytes.push(b);
        self
    }
    pub fn nested(mut self, ty: CK_ATTRIBUTE_TYPE, inner: &mut T) -> T {
        self.attrs.push(CK_ATTRIBUTE {
            type_: ty,
            pValue: inner.attrs.as_mut_ptr().cast(),
            ulValueLen: (inner.attrs.len() * size_of::<CK_ATTRIBUTE>()) as CK_ULONG,
        });
        self
    }
    /// A key template of `class` and key type `kt`.
    pub fn key(class: CK_OBJECT_CLASS, kt: CK_KEY_TYPE) -> T {
        T::default().ulong(CKA_CLASS, class).ulong(CKA_KEY_TYPE, kt)
    }
    pub fn secret(kt: CK_KEY_TYPE) -> T {
        T::key(CKO_SECRET_KEY, kt)
    }
}

impl RawSession {
    pub fn create(&self, t: &mut T) -> RawResult<CK_OBJECT_HANDLE> {
        let mut o = 0;
        // SAFETY: the template's values are owned by `t`.
        let rv = unsafe { self.lib.C_CreateObject(self.h, t.attrs.as_mut_ptr(), t.attrs.len() as _, &mut o) };
        if rv == CKR_OK { Ok(o) } else { Err(rv) }
    }
    /// C_SetAttributeValue.
    pub fn set(&self, o: CK_OBJECT_HANDLE, t: &mut T) -> RawResult<()> {
        // SAFETY: the template's values are owned by `t`.
        ck(unsafe { self.lib.C_SetAttributeValue(self.h, o, t.attrs.as_mut_ptr(), t.attrs.len() as _) })
    }
    /// C_CopyObject.
    pub fn copy(&self, o: CK_OBJECT_HANDLE, t: &mut T) -> RawResult<CK_OBJECT_HANDLE> {
        let mut n = 0;
        // SAFETY: the template's values are owned by `t`.
        let rv = unsafe { self.lib.C_CopyObject(self.h, o, t.attrs.as_mut_ptr(), t.attrs.len() as _, &mut n) };
        if rv == CKR_OK { Ok(n) } else { Err(rv) }
    }
    /// C_FindObjectsInit, C_FindObjects (all of them), C_FindObjectsFinal.
    pub fn find(&self, t: &mut T) -> RawResult<Vec<CK_OBJECT_HANDLE>> {
        let mut found = Vec::new();
        // SAFETY: the template's values are owned by `t`; the output buffer has 16 places.
        unsafe {
            ck(self.lib.C_FindObjectsInit(self.h, t.attrs.as_mut_ptr(), t.attrs.len() as _))?;
            loop {
                let mut buf = [0; 16];
                let mut n = 0;
                ck(self.lib.C_FindObjects(self.h, buf.as_mut_ptr(), 16, &mut n))?;
                if n == 0 {
                    break;
                }
                found.extend_from_slice(&buf[..n as usize]);
            }
            ck(self.lib.C_FindObjectsFinal(self.h))?;
        }
        Ok(found)
    }
    /// C_GenerateKey with mechanism `m` (no parameter).
    pub fn generate(&self, m: CK_MECHANISM_TYPE, t: &mut T) -> RawResult<CK_OBJECT_HANDLE> {
        self.generate_on(self.h, m, t)
    }

    /// As [`RawSession::generate`], on session `h` (of the same library).
    pub fn generate_on(&self, h: CK_SESSION_HANDLE, m: CK_MECHANISM_TYPE, t: &mut T) -> RawResult<CK_OBJECT_HANDLE> {
        self.generate_mech_on(h, &mut mech::<u8>(m, None), t)
    }

    /// C_GenerateKey with the mechanism `m`, its parameter included.
    pub fn generate_with(&self, m: &mut CK_MECHANISM, t: &mut T) -> RawResult<CK_OBJECT_HANDLE> {
        self.generate_mech_on(self.h, m, t)
    }

    fn generate_mech_on(&self, h: CK_SESSION_HANDLE, m: &mut CK_MECHANISM, t: &mut T) -> RawResult<CK_OBJECT_HANDLE> {
        let mut o = 0;
        // SAFETY: live mechanism and template.
        let rv = unsafe { self.lib.C_GenerateKey(h, m, t.attrs.as_mut_ptr(), t.attrs.len() as _, &mut o) };
        if rv == CKR_OK { Ok(o) } else { Err(rv) }
    }

    /// C_GenerateKeyPair with mechanism `m` (no parameter): (public key, private key).
    pub fn keypair(
        &self,
        m: CK_MECHANISM_TYPE,
        public: &mut T,
        private: &mut T,
    ) -> RawResult<(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE)> {
        self.keypair_on(self.h, m, public, private)
    }

    /// As [`RawSession::keypair`], on session `h` (of the same library).
    pub fn keypair_on(
        &self,
        h: CK_SESSION_HANDLE,
        m: CK_MECHANISM_TYPE,
        public: &mut T,
        private: &mut T,
    ) -> RawResult<(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE)> {
        let mut mm = mech::<u8>(m, None);
        let (mut a, mut b) = (0, 0);
        // SAFETY: live mechanism and templates.
        let rv = unsafe {
            self.lib.C_GenerateKeyPair(
                h,
                &mut mm,
                public.attrs.as_mut_ptr(),
                public.attrs.len() as _,
                private.attrs.as_mut_ptr(),
                private.attrs.len() as _,
                &mut a,
                &mut b,
            )
        };
        if rv == CKR_OK { Ok((a, b)) } else { Err(rv) }
    }
    pub fn wrap(&self, m: &mut CK_MECHANISM, kek: CK_OBJECT_HANDLE, key: CK_OBJECT_HANDLE) -> RawResult<Vec<u8>> {
        let mut n: CK_ULONG = 0;
        // SAFETY: live mechanism and length; NULL buffer is a size query.
        let rv = unsafe { self.lib.C_WrapKey(self.h, m, kek, key, null_mut(), &mut n) };
        if rv != CKR_OK {
            return Err(rv);
        }
        let mut out = vec![0u8; n as usize];
        // SAFETY: `out` holds n bytes.
        let rv = unsafe { self.lib.C_WrapKey(self.h, m, kek, key, out.as_mut_ptr(), &mut n) };
        if rv != CKR_OK {
            return Err(rv);
        }
        out.truncate(n as usize);
        Ok(out)
    }
    pub fn unwrap(
        &self,
        m: &mut CK_MECHANISM,
        kek: CK_OBJECT_HANDLE,
        wrapped: &[u8],
        t: &mut T,
    ) -> RawResult<CK_OBJECT_HANDLE> {
        self.unwrap_on(self.h, m, kek, wrapped, t)
    }
    /// As [`RawSession::unwrap`], on session `h` (of the same library).
    pub fn unwrap_on(
        &self,
        h: CK_SESSION_HANDLE,
        m: &mut CK_MECHANISM,
        kek: CK_OBJECT_HANDLE,
        wrapped: &[u8],
        t: &mut T,
    ) -> RawResult<CK_OBJECT_HANDLE> {
        let mut w = wrapped.to_vec();
        let mut o = 0;
        // SAFETY: live buffers and template.
        let rv = unsafe {
            self.lib.C_UnwrapKey(
                h,
                m,
                kek,
                w.as_mut_ptr(),
                w.len() as _,
                t.attrs.as_mut_ptr(),
                t.attrs.len() as _,
                &mut o,
            )
        };
        if rv == CKR_OK { Ok(o) } else { Err(rv) }
    }
    pub fn derive(&self, m: &mut CK_MECHANISM, base: CK_OBJECT_HANDLE, t: &mut T) -> RawResult<CK_OBJECT_HANDLE> {
        self.derive_on(self.h, m, base, t)
    }
    /// As [`RawSession::derive`], on session `h` (of the same library).
    pub fn derive_on(
        &self,
        h: CK_SESSION_HANDLE,
        m: &mut CK_MECHANISM,
        base: CK_OBJECT_HANDLE,
        t: &mut T,
    ) -> RawResult<CK_OBJECT_HANDLE> {
        let mut o = 0;
        // SAFETY: live mechanism and template.
        let rv = unsafe { self.lib.C_DeriveKey(h, m, base, t.attrs.as_mut_ptr(), t.attrs.len() as _, &mut o) };
        if rv == CKR_OK { Ok(o) } else { Err(rv) }
    }
    /// C_EncapsulateKey (size query, then the call): the ciphertext and the new key.
    pub fn encapsulate(
        &self,
        m: &mut CK_MECHANISM,
        public: CK_OBJECT_HANDLE,
        t: &mut T,
    ) -> RawResult<(Vec<u8>, CK_OBJECT_HANDLE)> {
        let (mut n, mut key) = (0, CK_INVALID_HANDLE);
        let mut call = |out: *mut u8, n: &mut CK_ULONG| {
            // SAFETY: live mechanism, template, length and handle; `out` is NULL (a size
            // query) or holds `*n` bytes.
            ck(unsafe {
                self.lib.C_EncapsulateKey(self.h, m, public, t.attrs.as_mut_ptr(), t.attrs.len() as _, out, n, &mut key)
            })
        };
        call(null_mut(), &mut n)?;
        let mut ct = vec![0u8; n as usize];
        call(ct.as_mut_ptr(), &mut n)?;
        ct.truncate(n as usize);
        Ok((ct, key))
    }
    /// C_DecapsulateKey: the new key.
    pub fn decapsulate(
        &self,
        m: &mut CK_MECHANISM,
        private: CK_OBJECT_HANDLE,
        ct: &[u8],
        t: &mut T,
    ) -> RawResult<CK_OBJECT_HANDLE> {
        let mut ct = ct.to_vec();
        let mut key = CK_INVALID_HANDLE;
        // SAFETY: live mechanism, ciphertext, template and handle.
        ck(unsafe {
            self.lib.C_DecapsulateKey(
                self.h,
                m,
                private,
                t.attrs.as_mut_ptr(),
                t.attrs.len() as _,
                ct.as_mut_ptr(),
                ct.len() as _,
                &mut key,
            )
        })?;
        Ok(key)
    }
    pub fn get_bytes(&self, o: CK_OBJECT_HANDLE, ty: CK_ATTRIBUTE_TYPE) -> RawResult<Vec<u8>> {
        let mut a = CK_ATTRIBUTE { type_: ty, pValue: null_mut(), ulValueLen: 0 };
        // SAFETY: size query, then a buffer of the reported size.
        unsafe {
            let rv = self.lib.C_GetAttributeValue(self.h, o, &mut a, 1);
            if rv != CKR_OK {
                return Err(rv);
            }
            let mut v = vec![0u8; a.ulValueLen as usize];
            a.pValue = v.as_mut_ptr().cast();
            let rv = self.lib.C_GetAttributeValue(self.h, o, &mut a, 1);
            if rv != CKR_OK {
                return Err(rv);
            }
            Ok(v)
        }
    }
    pub fn get_bool(&self, o: CK_OBJECT_HANDLE, ty: CK_ATTRIBUTE_TYPE) -> bool {
        self.get_bytes(o, ty).unwrap() == [1]
    }
    pub fn get_ulong(&self, o: CK_OBJECT_HANDLE, ty: CK_ATTRIBUTE_TYPE) -> RawResult<CK_ULONG> {
        let v = self.get_bytes(o, ty)?;
        Ok(CK_ULONG::from_ne_bytes(v.try_into().expect("a CK_ULONG attribute")))
    }
}
