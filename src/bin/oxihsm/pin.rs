//! PINs for the CLI: from an echo-less prompt (the default), an environment variable, a file,
//! or the command line only when explicitly asked (`value:`). Held zeroized.

use crate::Result;
use cryptoki::types::AuthPin;
use zeroize::Zeroizing;

/// A PIN, wiped on drop.
pub struct Pin(Zeroizing<String>);

impl Pin {
    pub fn auth(&self) -> AuthPin {
        AuthPin::new(self.0.as_str().into())
    }
    pub fn bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// Reads a PIN from `source` (`prompt`, `env:VAR`, `file:PATH`, `value:PIN`).
pub fn read(source: Option<&str>, prompt: &str) -> Result<Pin> {
    let source = source.unwrap_or("prompt");
    let text = if source == "prompt" {
        Zeroizing::new(rpassword::prompt_password(prompt).map_err(|e| {
            format!("cannot read the PIN from the terminal: {e} (use --pin-source env:VAR or file:PATH)")
        })?)
    } else if let Some(var) = source.strip_prefix("env:") {
        Zeroizing::new(std::env::var(var).map_err(|_| format!("PIN source: environment variable {var} is not set"))?)
    } else if let Some(path) = source.strip_prefix("file:") {
        let t = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| format!("PIN source: {path}: {e}"))?);
        Zeroizing::new(t.trim_end_matches(['\n', '\r']).to_string())
    } else if let Some(v) = source.strip_prefix("value:") {
        Zeroizing::new(v.to_string())
    } else {
        return Err(format!("PIN source `{source}`: use prompt, env:VAR, file:PATH or value:PIN"));
    };
    if text.is_empty() {
        return Err("the PIN is empty".into());
    }
    Ok(Pin(text))
}
