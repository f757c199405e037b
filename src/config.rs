//! Configuration: our TOML file (`OXIHSM_CONF`), SoftHSMv2's `softhsm2.conf`
//! (`SOFTHSM2_CONF`), or the per-user default (DESIGN §7).
//!
//! Errors name the file and the line. Unknown keys are warnings, returned with the config so
//! that the caller decides where they go (the library logs them to stderr once).

use crate::error::{Error, Result};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Argon2id cost used to derive PIN keys for tokens initialised under this configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KdfParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes over memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for KdfParams {
    /// OWASP's Argon2id recommendation (19 MiB, 2 passes, 1 lane).
    fn default() -> Self {
        KdfParams { memory_kib: 19 * 1024, iterations: 2, parallelism: 1 }
    }
}

/// How much the module says on standard error (softhsm2.conf `log.level`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum LogLevel {
    Error,
    Warning,
    Info,
    Debug,
}

/// The module's configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// Directory holding the token store.
    pub token_dir: PathBuf,
    /// Argon2id cost for new PIN wrappings.
    pub pin_kdf: KdfParams,
    /// Failed logins after which a PIN is locked.
    pub max_pin_failures: u32,
    /// When false, no key may ever have CKA_EXTRACTABLE=TRUE.
    pub allow_extractable: bool,
    /// How long a change waits for another process's write lock on the store.
    pub busy_timeout_ms: u64,
    /// Audit the start of every crypto operation (sign, decrypt, ...) with its key.
    pub audit_crypto_operations: bool,
    /// Audit key management on session objects too (token objects always are).
    pub audit_session_objects: bool,
    /// Mechanisms the module does not offer (softhsm2.conf `slots.mechanisms`).
    pub disabled_mechanisms: Vec<u64>,
    /// Slots report CKF_REMOVABLE_DEVICE (softhsm2.conf `slots.removable`).
    pub slots_removable: bool,
    /// Bits cleared from the store file's mode (softhsm2.conf `objectstore.umask`).
    pub umask: u32,
    /// The most verbose level of messages on standard error.
    pub log_level: LogLevel,
    /// Where the configuration came from (for messages).
    pub source: String,
    /// Non-fatal remarks (unknown keys).
    pub warnings: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlConfig {
    token_dir: Option<PathBuf>,
    pin_kdf: Option<KdfParams>,
    max_pin_failures: Option<u32>,
    allow_extractable: Option<bool>,
    busy_timeout_ms: Option<u64>,
    audit_crypto_operations: Option<bool>,
    audit_session_objects: Option<bool>,
    log_level: Option<LogLevel>,
    mechanisms: Option<String>,
}

impl Config {
    /// A configuration with defaults for `token_dir`.
    pub fn with_dir(token_dir: impl Into<PathBuf>) -> Config {
        Config {
            token_dir: token_dir.into(),
            pin_kdf: KdfParams::default(),
            max_pin_failures: 10,
            allow_extractable: true,
            busy_timeout_ms: 30_000,
            audit_crypto_operations: false,
            audit_session_objects: false,
            disabled_mechanisms: Vec::new(),
            slots_removable: false,
            umask: 0o077,
            log_level: LogLevel::Info,
            source: "built-in defaults".into(),
            warnings: Vec::new(),
        }
    }

    /// Reads the configuration the way the module does: `OXIHSM_CONF`, else `SOFTHSM2_CONF`,
    /// else `$XDG_DATA_HOME/oxihsm` (or `~/.local/share/oxihsm`).
    pub fn from_env() -> Result<Config> {
        if let Some(p) = std::env::var_os("OXIHSM_CONF").filter(|v| !v.is_empty()) {
            return Config::from_toml_file(Path::new(&p));
        }
        if let Some(p) = std::env::var_os("SOFTHSM2_CONF").filter(|v| !v.is_empty()) {
            return Config::from_softhsm_file(Path::new(&p));
        }
        Ok(Config::with_dir(default_dir()?))
    }

    /// Parses an oxihsm TOML file.
    pub fn from_toml_file(path: &Path) -> Result<Config> {
        let text = read(path)?;
        Config::from_toml_str(&text, path)
    }

    /// Parses oxihsm TOML text; relative paths are taken relative to `path`'s directory.
    pub fn from_toml_str(text: &str, path: &Path) -> Result<Config> {
        let parsed: TomlConfig = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start)).unwrap_or(0);
            Error::Config(format!("{}:{line}: {}", path.display(), e.message()))
        })?;
        let dir = parsed
            .token_dir
            .ok_or_else(|| Error::Config(format!("{}: missing top-level key `token_dir`", path.display())))?;
        let mut c = Config::with_dir(relative_to(path, dir));
        if let Some(k) = parsed.pin_kdf {
            if k.memory_kib < 8 * k.parallelism.max(1) || k.iterations == 0 || k.parallelism == 0 {
                return Err(Error::Config(format!("{}: pin_kdf values out of range", path.display())));
            }
            c.pin_kdf = k;
        }
        if let Some(n) = parsed.max_pin_failures {
            if n == 0 {
                return Err(Error::Config(format!("{}: max_pin_failures must be at least 1", path.display())));
            }
            c.max_pin_failures = n;
        }
        if let Some(b) = parsed.allow_extractable {
            c.allow_extractable = b;
        }
        if let Some(ms) = parsed.busy_timeout_ms {
            c.busy_timeout_ms = ms;
        }
        c.audit_crypto_operations = parsed.audit_crypto_operations.unwrap_or(false);
        c.audit_session_objects = parsed.audit_session_objects.unwrap_or(false);
        if let Some(l) = parsed.log_level {
            c.log_level = l;
        }
        if let Some(m) = &parsed.mechanisms {
            c.disabled_mechanisms =
                mechanism_filter(m).map_err(|e| Error::Config(format!("{}: mechanisms: {e}", path.display())))?;
        }
        c.source = path.display().to_string();
        Ok(c)
    }

    /// Parses a SoftHSMv2 `softhsm2.conf` file (`key = value` lines, `#` comments).
    pub fn from_softhsm_file(path: &Path) -> Result<Config> {
        let text = read(path)?;
        Config::from_softhsm_str(&text, path)
    }

    /// Parses softhsm2.conf text.
    pub fn from_softhsm_str(text: &str, path: &Path) -> Result<Config> {
        let mut dir = None;
        let mut warnings = Vec::new();
        let mut c = Config::with_dir(PathBuf::new());
        for (n, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let at = || format!("{}:{}", path.display(), n + 1);
            let (k, v) =
                line.split_once('=').ok_or_else(|| Error::Config(format!("{}: expected `key = value`", at())))?;
            let (k, v) = (k.trim(), v.trim());
            match k {
                "directories.tokendir" => {
                    if v.is_empty() {
                        return Err(Error::Config(format!("{}: empty directories.tokendir", at())));
                    }
                    dir = Some(relative_to(path, PathBuf::from(v)));
                }
                "objectstore.backend" if !matches!(v, "file" | "db") => {
                    return Err(Error::Config(format!("{}: objectstore.backend must be file or db", at())));
                }
                "log.level" if !matches!(v, "ERROR" | "WARNING" | "INFO" | "DEBUG") => {
                    return Err(Error::Config(format!("{}: invalid log.level `{v}`", at())));
                }
                "slots.removable" | "library.reset_on_fork" if !matches!(v, "true" | "false") => {
                    return Err(Error::Config(format!("{}: {k} must be true or false", at())));
                }
                "log.level" => {
                    c.log_level = match v {
                        "ERROR" => LogLevel::Error,
                        "WARNING" => LogLevel::Warning,
                        "INFO" => LogLevel::Info,
                        _ => LogLevel::Debug,
                    }
                }
                "slots.removable" => c.slots_removable = v == "true",
                "slots.mechanisms" => {
                    c.disabled_mechanisms =
                        mechanism_filter(v).map_err(|e| Error::Config(format!("{}: slots.mechanisms: {e}", at())))?;
                }
                "objectstore.umask" => {
                    let digits = v.trim_start_matches("0o");
                    c.umask = u32::from_str_radix(digits, 8).ok().filter(|u| *u <= 0o777).ok_or_else(|| {
                        Error::Config(format!("{}: objectstore.umask must be octal, like 0077", at()))
                    })?;
                }
                // The store is oxihsm's for either backend; after a fork the child always
                // starts afresh (softhsm-compat/DIFFERENCES.md).
                "objectstore.backend" | "library.reset_on_fork" => {}
                _ => warnings.push(format!("{}: unknown key `{k}` ignored", at())),
            }
        }
        c.token_dir = dir.ok_or_else(|| Error::Config(format!("{}: missing directories.tokendir", path.display())))?;
        c.source = path.display().to_string();
        c.warnings = warnings;
        Ok(c)
    }
}

/// Parses a mechanism list as softhsm2.conf writes it: `ALL`, names (`CKM_RSA_PKCS,
/// CKM_AES_GCM`: only these), or names each with a leading `-` (all but these). Names are
/// the specification's; `0x...` numbers are accepted too. Returns the mechanisms to disable.
pub fn mechanism_filter(v: &str) -> std::result::Result<Vec<u64>, String> {
    let v = v.trim();
    if v.eq_ignore_ascii_case("ALL") || v.is_empty() {
        return Ok(Vec::new());
    }
    let items: Vec<&str> = v.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
    let deny = items.iter().all(|i| i.starts_with('-'));
    if !deny && items.iter().any(|i| i.starts_with('-')) {
        return Err("mix of listed and excluded (-) mechanisms".into());
    }
    let mut named = Vec::new();
    for i in items {
        let name = i.trim_start_matches('-');
        named.push(mechanism_number(name).ok_or_else(|| format!("unknown mechanism `{name}`"))?);
    }
    let all: Vec<u64> = crate::mechanism::registry().iter().map(|e| e.ty as u64).collect();
    Ok(if deny { named } else { all.into_iter().filter(|t| !named.contains(t)).collect() })
}

fn mechanism_number(name: &str) -> Option<u64> {
    if let Some(hex) = name.strip_prefix("0x").or_else(|| name.strip_prefix("0X")) {
        return u64::from_str_radix(hex, 16).ok();
    }
    // The offered mechanisms by their names; then others cryptoki knows by name (naming a
    // mechanism this module does not offer changes nothing, but is no error).
    crate::mechanism::names::number(name).map(|t| t as u64).or_else(|| {
        (0..0x2000).find(|&t| {
            cryptoki::mechanism::MechanismType::try_from(t as cryptoki_sys::CK_MECHANISM_TYPE)
                .is_ok_and(|m| m.to_string() == name)
        })
    })
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| Error::Config(format!("{}: cannot read: {e}", path.display())))
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

fn relative_to(conf: &Path, p: PathBuf) -> PathBuf {
    if p.is_absolute() { p } else { conf.parent().map(|d| d.join(&p)).unwrap_or(p) }
}

fn default_dir() -> Result<PathBuf> {
    if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(x).join("oxihsm"));
    }
    let home = std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Error::Config("neither OXIHSM_CONF, SOFTHSM2_CONF, XDG_DATA_HOME nor HOME is set".into()))?;
    Ok(PathBuf::from(home).join(".local/share/oxihsm"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_minimal_and_relative() {
        let c = Config::from_toml_str("token_dir = \"store\"\n", Path::new("/etc/ox/oxihsm.toml")).unwrap();
        assert_eq!(c.token_dir, PathBuf::from("/etc/ox/store"));
        assert_eq!(c.pin_kdf, KdfParams::default());
        assert_eq!(c.max_pin_failures, 10);
        assert_eq!(c.busy_timeout_ms, 30_000);
        let c = Config::from_toml_str("token_dir = \"/s\"\nbusy_timeout_ms = 250\n", Path::new("/c.toml")).unwrap();
        assert_eq!(c.busy_timeout_ms, 250);
    }

    #[test]
    fn pin_kdf_and_lockout_limits() {
        let conf = |extra: &str| Config::from_toml_str(&format!("token_dir = \"/s\"\n{extra}\n"), Path::new("/c.toml"));
        let kdf = |m, i, p| conf(&format!("[pin_kdf]\nmemory_kib = {m}\niterations = {i}\nparallelism = {p}"));
        // Argon2's floor: 8 KiB per lane, one pass, one lane.
        assert_eq!(kdf(16, 1, 2).unwrap().pin_kdf, KdfParams { memory_kib: 16, iterations: 1, parallelism: 2 });
        for (m, i, p) in [(15, 1, 2), (16, 0, 2), (16, 1, 0), (7, 1, 1)] {
            let e = kdf(m, i, p).unwrap_err().to_string();
            assert!(e.contains("pin_kdf values out of range"), "{m} {i} {p}: {e}");
        }
        assert_eq!(conf("max_pin_failures = 1").unwrap().max_pin_failures, 1);
        let e = conf("max_pin_failures = 0").unwrap_err().to_string();
        assert!(e.contains("at least 1"), "{e}");
    }

    #[test]
    fn toml_errors_name_file_and_line() {
        let e = Config::from_toml_str("token_dir = \"/x\"\nbogus = 1\n", Path::new("/c.toml")).unwrap_err();
        let s = e.to_string();
        assert!(s.contains("/c.toml:2"), "{s}");
        let e = Config::from_toml_str("max_pin_failures = 3\n", Path::new("/c.toml")).unwrap_err();
        assert!(e.to_string().contains("token_dir"));
    }

    #[test]
    fn softhsm_conf() {
        let t = "# comment\ndirectories.tokendir = /var/lib/softhsm/tokens/\nobjectstore.backend = file\nlog.level = ERROR\nfoo.bar = 1\n";
        let c = Config::from_softhsm_str(t, Path::new("/etc/softhsm2.conf")).unwrap();
        assert_eq!(c.token_dir, PathBuf::from("/var/lib/softhsm/tokens/"));
        assert_eq!(c.warnings.len(), 1);
        let e = Config::from_softhsm_str("log.level = LOUD\n", Path::new("/s.conf")).unwrap_err();
        assert!(e.to_string().contains("/s.conf:1"));
        assert!(Config::from_softhsm_str("junk\n", Path::new("/s.conf")).is_err());
    }

    #[test]
    fn softhsm_conf_values() {
        let conf = |extra: &str| {
            Config::from_softhsm_str(&format!("directories.tokendir = /t\n{extra}\n"), Path::new("/s.conf"))
        };
        for (v, want) in [("true", true), ("false", false)] {
            assert_eq!(conf(&format!("slots.removable = {v}")).unwrap().slots_removable, want);
        }
        for (level, want) in [
            ("ERROR", LogLevel::Error),
            ("WARNING", LogLevel::Warning),
            ("INFO", LogLevel::Info),
            ("DEBUG", LogLevel::Debug),
        ] {
            assert_eq!(conf(&format!("log.level = {level}")).unwrap().log_level, want);
        }
        for (v, want) in [("0027", 0o027), ("0o777", 0o777), ("0", 0)] {
            assert_eq!(conf(&format!("objectstore.umask = {v}")).unwrap().umask, want, "{v}");
        }
        // Keys SoftHSMv2 knows that change nothing here: no warning.
        let c = conf("objectstore.backend = db\nlibrary.reset_on_fork = true").unwrap();
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        for bad in [
            "slots.removable = yes",
            "library.reset_on_fork = 1",
            "objectstore.backend = sqlite",
            "objectstore.umask = 1000",
            "objectstore.umask = 0099",
            "directories.tokendir =",
        ] {
            let e = conf(bad).unwrap_err().to_string();
            assert!(e.contains("/s.conf:2"), "{bad}: {e}");
        }
    }

    #[test]
    fn mechanism_filters_name_the_3_2_mechanisms() {
        use cryptoki_sys::*;
        let denied = mechanism_filter("-CKM_ML_DSA,-CKM_ML_KEM,-CKM_HASH_ML_DSA_SHA256").unwrap();
        assert_eq!(denied, vec![CKM_ML_DSA, CKM_ML_KEM, CKM_HASH_ML_DSA_SHA256]);
        // Mechanisms cryptoki cannot convert from a number are named too.
        let denied = mechanism_filter("-CKM_DES_KEY_GEN,-CKM_DES_ECB,-CKM_AES_KEY_WRAP_KWP,-CKM_CHACHA20_POLY1305");
        assert_eq!(denied.unwrap(), vec![CKM_DES_KEY_GEN, CKM_DES_ECB, CKM_AES_KEY_WRAP_KWP, CKM_CHACHA20_POLY1305]);
        assert!(mechanism_filter("-CKM_AES_GMC").unwrap_err().contains("CKM_AES_GMC"));
    }
}
