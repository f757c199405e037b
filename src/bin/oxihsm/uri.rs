//! PKCS#11 URIs (RFC 7512): the path attributes oxihsm uses to name objects.

use crate::Result;

/// The path attributes of a `pkcs11:` URI.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Uri {
    pub token: Option<String>,
    pub serial: Option<String>,
    pub manufacturer: Option<String>,
    pub model: Option<String>,
    pub object: Option<String>,
    pub id: Option<Vec<u8>>,
    /// `cert`, `data`, `private`, `public` or `secret-key`.
    pub kind: Option<String>,
    pub slot_id: Option<u64>,
}

fn pct_encode(bytes: &[u8]) -> String {
    let mut s = String::new();
    for &b in bytes {
        // RFC 7512 pk11-pchar: unreserved characters and a few sub-delims stay literal.
        if b.is_ascii_alphanumeric() || b"-._~:[]@!$'()*+,=&".contains(&b) {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

fn pct_decode(s: &str) -> Result<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3).ok_or_else(|| format!("bad %-escape in `{s}`"))?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| format!("bad %-escape in `{s}`"))?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(out)
}

impl Uri {
    pub fn parse(text: &str) -> Result<Uri> {
        let rest = text.strip_prefix("pkcs11:").ok_or_else(|| format!("`{text}` is not a pkcs11: URI"))?;
        let path = rest.split('?').next().unwrap_or("");
        let mut u = Uri::default();
        for seg in path.split(';').filter(|s| !s.is_empty()) {
            let (k, v) = seg.split_once('=').ok_or_else(|| format!("URI attribute `{seg}` has no value"))?;
            let raw = pct_decode(v)?;
            let text = || String::from_utf8(raw.clone()).map_err(|_| format!("URI attribute {k} is not UTF-8"));
            match k {
                "token" => u.token = Some(text()?),
                "serial" => u.serial = Some(text()?),
                "manufacturer" => u.manufacturer = Some(text()?),
                "model" => u.model = Some(text()?),
                "object" => u.object = Some(text()?),
                "id" => u.id = Some(raw),
                "type" => {
                    let t = text()?;
                    if !matches!(t.as_str(), "cert" | "data" | "private" | "public" | "secret-key") {
                        return Err(format!("URI type `{t}`: expected cert, data, private, public or secret-key"));
                    }
                    u.kind = Some(t);
                }
                "slot-id" => u.slot_id = Some(text()?.parse().map_err(|_| "URI slot-id is not a number".to_string())?),
                // Library attributes and unknown ones do not narrow oxihsm's objects.
                _ => {}
            }
        }
        Ok(u)
    }

    pub fn format(&self) -> String {
        let mut parts = Vec::new();
        let text = [
            ("model", &self.model),
            ("manufacturer", &self.manufacturer),
            ("serial", &self.serial),
            ("token", &self.token),
        ];
        for (k, v) in text {
            if let Some(v) = v {
                parts.push(format!("{k}={}", pct_encode(v.as_bytes())));
            }
        }
        if let Some(v) = &self.id {
            // Always percent-encoded, as RFC 7512 recommends for binary ids.
            parts.push(format!("id={}", v.iter().map(|b| format!("%{b:02X}")).collect::<String>()));
        }
        for (k, v) in [("object", &self.object), ("type", &self.kind)] {
            if let Some(v) = v {
                parts.push(format!("{k}={}", pct_encode(v.as_bytes())));
            }
        }
        format!("pkcs11:{}", parts.join(";"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rfc_examples() {
        let u =
            Uri::parse("pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;object=my%20key;type=private;id=%01%ff")
                .unwrap();
        assert_eq!(u.token.as_deref(), Some("The Software PKCS#11 Softtoken"));
        assert_eq!(u.object.as_deref(), Some("my key"));
        assert_eq!(u.id, Some(vec![1, 0xff]));
        assert_eq!(Uri::parse(&u.format()).unwrap(), u);
        assert!(Uri::parse("pkcs11:type=nonsense").is_err());
        assert!(Uri::parse("file:/x").is_err());
        assert_eq!(Uri::parse("pkcs11:").unwrap(), Uri::default());
        // The token's other path attributes, and a query part (ignored).
        let u = Uri::parse("pkcs11:model=SoftHSM%20v2;manufacturer=oxihsm;serial=0a1b;slot-id=7;type=cert?pin-value=1")
            .unwrap();
        assert_eq!(
            (u.model.as_deref(), u.manufacturer.as_deref(), u.serial.as_deref(), u.slot_id, u.kind.as_deref()),
            (Some("SoftHSM v2"), Some("oxihsm"), Some("0a1b"), Some(7), Some("cert"))
        );
        assert!(Uri::parse("pkcs11:slot-id=seven").is_err());
        assert!(Uri::parse("pkcs11:serial").is_err());
    }
}
