//! The sealing layer: AES-256-GCM under a token's master key, with AAD binding every value to
//! its token, object and attribute (DESIGN §6), and keyed index digests for private objects.

use crate::crypto::{self, SecretKey256};
use crate::error::Result;
use cryptoki_sys::CK_ATTRIBUTE_TYPE;
use zeroize::Zeroizing;

/// A token's unlocked master key, with the token identity it seals for.
pub struct Sealer {
    mk: SecretKey256,
    index_key: SecretKey256,
    token_uuid: [u8; 16],
}

impl Sealer {
    pub fn new(mk: SecretKey256, token_uuid: [u8; 16]) -> Result<Sealer> {
        let ik = crypto::hmac_sha256(mk.as_bytes(), &[b"oxihsm index key v1", &token_uuid]);
        let index_key = SecretKey256::from_slice(&ik)?;
        Ok(Sealer { mk, index_key, token_uuid })
    }

    pub fn master_key(&self) -> &SecretKey256 {
        &self.mk
    }

    fn aad(&self, uid: &str, ty: CK_ATTRIBUTE_TYPE) -> Vec<u8> {
        let mut aad = Vec::with_capacity(16 + uid.len() + 9);
        aad.extend_from_slice(b"A");
        aad.extend_from_slice(&self.token_uuid);
        aad.extend_from_slice(&(ty as u64).to_le_bytes());
        aad.extend_from_slice(uid.as_bytes());
        aad
    }

    /// Seals the encoded value of attribute `ty` of the object with unique id `uid`.
    pub fn seal_attr(&self, uid: &str, ty: CK_ATTRIBUTE_TYPE, value: &[u8]) -> Result<Vec<u8>> {
        crypto::seal(&self.mk, &self.aad(uid, ty), value)
    }

    /// Opens what [`Sealer::seal_attr`] made for the same object and attribute.
    pub fn open_attr(&self, uid: &str, ty: CK_ATTRIBUTE_TYPE, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        crypto::open(&self.mk, &self.aad(uid, ty), sealed)
    }

    /// Index digest for a private object's attribute: keyed, so the file does not reveal it.
    pub fn private_digest(&self, ty: CK_ATTRIBUTE_TYPE, encoded: &[u8]) -> [u8; 32] {
        crypto::hmac_sha256(self.index_key.as_bytes(), &[&(ty as u64).to_le_bytes(), encoded])
    }
}

/// Index digest for a public object's attribute.
pub fn public_digest(ty: CK_ATTRIBUTE_TYPE, encoded: &[u8]) -> [u8; 32] {
    crypto::sha256(&[b"oxihsm index v1", &(ty as u64).to_le_bytes(), encoded])
}

/// Associated data for a master key wrapped under a PIN key.
pub fn mk_wrap_aad(token_uuid: &[u8; 16], so: bool) -> Vec<u8> {
    let mut aad = b"oxihsm mk v1".to_vec();
    aad.extend_from_slice(token_uuid);
    aad.push(so as u8);
    aad
}
