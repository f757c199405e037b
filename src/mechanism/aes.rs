//! AES (PKCS#11 3.2 §6.13–6.16): ECB, CBC, CBC_PAD, CTR with any counter width, GCM with
//! any IV length from 1 to 256 bytes and tags of 32 to 128 bits, and CCM, on AWS-LC.
//! AEAD decryption releases nothing before the tag verifies: everything comes at the end.

use super::ops::Cipher;
use super::{Entry, Implementation, Mechanism, ParamShape, Params, Registry, info};
use crate::crypto::ccm;
use crate::crypto::evp::{CipherCtx, Mode};
use crate::error::{Error, Result};
use cryptoki_sys::*;
use zeroize::Zeroizing;

/// The AES modes a registry entry can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AesMode {
    Ecb,
    Cbc,
    CbcPad,
    Ctr,
    Gcm,
    Ccm,
}

pub fn register(r: &mut Registry) {
    let modes = [
        (CKM_AES_ECB, AesMode::Ecb, ParamShape::None),
        (CKM_AES_CBC, AesMode::Cbc, ParamShape::Iv16),
        (CKM_AES_CBC_PAD, AesMode::CbcPad, ParamShape::Iv16),
        (CKM_AES_CTR, AesMode::Ctr, ParamShape::AesCtr),
        (CKM_AES_GCM, AesMode::Gcm, ParamShape::Gcm),
        (CKM_AES_CCM, AesMode::Ccm, ParamShape::Ccm),
    ];
    for (ty, mode, params) in modes {
        let wraps = matches!(mode, AesMode::Ecb | AesMode::Cbc | AesMode::CbcPad | AesMode::Gcm);
        r.add(Entry {
            ty,
            info: info(
                16,
                32,
                CKF_ENCRYPT
                    | CKF_DECRYPT
                    | if wraps { CKF_WRAP | CKF_UNWRAP } else { 0 }
                    | if matches!(mode, AesMode::Gcm | AesMode::Ccm) {
                        CKF_MESSAGE_ENCRYPT | CKF_MESSAGE_DECRYPT
                    } else {
                        0
                    },
            ),
            params,
            key_types: &[CKK_AES],
            implementation: Implementation::Aes(mode),
        });
    }
}

/// Builds the cipher for `mode` with the caller's parameters.
pub fn cipher(mode: AesMode, m: &Mechanism, key: &[u8], encrypt: bool) -> Result<Box<dyn Cipher>> {
    Ok(match (mode, &m.params) {
        (AesMode::Ecb, Params::None) => Box::new(Block::new(Mode::Ecb, key, &[], encrypt, false)?),
        (AesMode::Cbc, Params::Iv(iv)) => Box::new(Block::new(Mode::Cbc, key, iv, encrypt, false)?),
        (AesMode::CbcPad, Params::Iv(iv)) => Box::new(Block::new(Mode::Cbc, key, iv, encrypt, true)?),
        (AesMode::Ctr, Params::Ctr { counter_bits, block }) => Box::new(Ctr::new(key, *counter_bits, block, encrypt)?),
        (AesMode::Gcm, Params::Gcm { iv, aad, tag_bits }) => {
            if iv.is_empty() || iv.len() > 256 || *tag_bits % 8 != 0 || !(32..=128).contains(tag_bits) {
                return Err(Error::MechanismParamInvalid);
            }
            Box::new(Aead::new(AeadKind::Gcm { iv: iv.clone() }, key, aad, tag_bits / 8, encrypt)?)
        }
        (AesMode::Ccm, Params::Ccm { data_len, nonce, aad, mac_len }) => {
            if !(7..=13).contains(&nonce.len()) || !(4..=16).contains(mac_len) || mac_len % 2 != 0 {
                return Err(Error::MechanismParamInvalid);
            }
            Box::new(Aead::new(
                AeadKind::Ccm { nonce: nonce.clone(), data_len: *data_len },
                key,
                aad,
                *mac_len,
                encrypt,
            )?)
        }
        _ => return Err(Error::MechanismParamInvalid),
    })
}

fn len_error(encrypt: bool) -> Error {
    if encrypt { Error::DataLenRange } else { Error::EncryptedDataLenRange }
}

/// ECB and CBC, with or without PKCS#7 padding.
struct Block {
    ctx: CipherCtx,
    encrypt: bool,
    pad: bool,
    total: usize,
}

impl Block {
    fn new(mode: Mode, key: &[u8], iv: &[u8], encrypt: bool, pad: bool) -> Result<Block> {
        Ok(Block { ctx: CipherCtx::block(mode, key, iv, encrypt, pad)?, encrypt, pad, total: 0 })
    }

    fn check_total(&self, total: usize) -> Result<()> {
        let aligned = total % 16 == 0;
        let ok = match (self.pad, self.encrypt) {
            (false, _) => aligned,
            (true, true) => true,
            (true, false) => aligned && total > 0,
        };
        if ok { Ok(()) } else { Err(len_error(self.encrypt)) }
    }
}

impl Cipher for Block {
    fn update(&mut self, input: &[u8]) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(input.len() + 16);
        self.ctx.update(input, &mut out)?;
        self.total += input.len();
        Ok(out)
    }

    fn finish(&mut self) -> Result<Vec<u8>> {
        self.check_total(self.total)?;
        let mut out = Vec::new();
        self.ctx.finish(&mut out)?;
        Ok(out)
    }

    fn one_shot(&mut self, input: &[u8]) -> Result<Vec<u8>> {
        self.check_total(input.len())?;
        let mut out = self.update(input)?;
        self.ctx.finish(&mut out)?;
        Ok(out)
    }

    fn update_bound(&self, n: usize) -> usize {
        n + 16
    }

    fn final_bound(&self) -> usize {
        16
    }
}

/// CTR: the counter is the low `counter_bits` bits of the counter block; data that would
/// make it wrap is refused.
struct Ctr {
    ctx: CipherCtx,
    encrypt: bool,
    /// Bytes left before the counter wraps; `None` when it cannot within any message.
    left: Option<u128>,
}

impl Ctr {
    fn new(key: &[u8], bits: u32, block: &[u8; 16], encrypt: bool) -> Result<Ctr> {
        if !(1..=128).contains(&bits) {
            return Err(Error::MechanismParamInvalid);
        }
        let counter = u128::from_be_bytes(*block);
        let left = if bits >= 124 {
            None
        } else {
            let mask = (1u128 << bits) - 1;
            Some(((1u128 << bits) - (counter & mask)) * 16)
        };
        Ok(Ctr { ctx: CipherCtx::block(Mode::Ctr, key, block, encrypt, false)?, encrypt, left })
    }
}

impl Cipher for Ctr {
    fn update(&mut self, input: &[u8]) -> Result<Vec<u8>> {
        if let Some(left) = self.left.as_mut() {
            let n = input.len() as u128;
            if n > *left {
                return Err(len_error(self.encrypt));
            }
            *left -= n;
        }
        let mut out = Vec::with_capacity(input.len());
        self.ctx.update(input, &mut out)?;
        Ok(out)
    }

    fn finish(&mut self) -> Result<Vec<u8>> {
        Ok(Vec::new())
    }

    fn update_bound(&self, n: usize) -> usize {
        n
    }

    fn final_bound(&self) -> usize {
        0
    }
}

enum AeadKind {
    Gcm { iv: Vec<u8> },
    Ccm { nonce: Vec<u8>, data_len: usize },
}

/// GCM and CCM. Input is gathered and processed at the end, so decryption releases no
/// plaintext before the tag is verified.
struct Aead {
    kind: AeadKind,
    key: Zeroizing<Vec<u8>>,
    aad: Vec<u8>,
    tag_len: usize,
    encrypt: bool,
    buf: Zeroizing<Vec<u8>>,
}

impl Aead {
    fn new(kind: AeadKind, key: &[u8], aad: &[u8], tag_len: usize, encrypt: bool) -> Result<Aead> {
        if !matches!(key.len(), 16 | 24 | 32) {
            return Err(Error::KeySizeRange);
        }
        Ok(Aead {
            kind,
            key: Zeroizing::new(key.to_vec()),
            aad: aad.to_vec(),
            tag_len,
            encrypt,
            buf: Zeroizing::new(Vec::new()),
        })
    }

    fn process(&self, data: &[u8]) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(data.len() + self.tag_len);
        if self.encrypt {
            let mut ctx = match &self.kind {
                AeadKind::Gcm { iv } => CipherCtx::gcm(&self.key, iv, true)?,
                AeadKind::Ccm { nonce, data_len } => {
                    if data.len() != *data_len {
                        return Err(Error::DataLenRange);
                    }
                    return ccm::seal(&self.key, nonce, self.tag_len, &self.aad, data);
                }
            };
            ctx.aad(&self.aad)?;
            ctx.update(data, &mut out)?;
            ctx.finish(&mut out)?;
            out.extend_from_slice(&ctx.tag(self.tag_len)?);
            return Ok(out);
        }
        if data.len() < self.tag_len {
            return Err(Error::EncryptedDataLenRange);
        }
        let (ct, tag) = data.split_at(data.len() - self.tag_len);
        let mut out = Zeroizing::new(out);
        match &self.kind {
            AeadKind::Gcm { iv } => {
                let mut ctx = CipherCtx::gcm(&self.key, iv, false)?;
                ctx.aad(&self.aad)?;
                ctx.set_tag(tag)?;
                ctx.update(ct, &mut out)?;
                ctx.finish(&mut out)?;
            }
            AeadKind::Ccm { nonce, data_len } => {
                if ct.len() != *data_len {
                    return Err(Error::EncryptedDataLenRange);
                }
                return Ok(ccm::open(&self.key, nonce, self.tag_len, &self.aad, data)?.to_vec());
            }
        }
        Ok(std::mem::take(&mut *out))
    }
}

impl Cipher for Aead {
    fn one_shot_into(&mut self, input: &[u8], out: &mut [u8]) -> Result<Option<usize>> {
        // GCM encryption only: decryption must not release plaintext before the tag check.
        let AeadKind::Gcm { iv } = &self.kind else { return Ok(None) };
        let n = input.len();
        if !self.encrypt || out.len() < n + self.tag_len {
            return Ok(None);
        }
        let mut ctx = CipherCtx::gcm(&self.key, iv, true)?;
        ctx.aad(&self.aad)?;
        let written = ctx.update_into(input, &mut out[..n])?;
        let mut rest = Vec::new();
        ctx.finish(&mut rest)?;
        if written != n || !rest.is_empty() {
            return Err(Error::Internal("GCM wrote an unexpected length".into()));
        }
        ctx.tag_into(&mut out[n..n + self.tag_len])?;
        Ok(Some(n + self.tag_len))
    }

    fn update(&mut self, input: &[u8]) -> Result<Vec<u8>> {
        self.buf.extend_from_slice(input);
        Ok(Vec::new())
    }

    fn finish(&mut self) -> Result<Vec<u8>> {
        let data = std::mem::take(&mut self.buf);
        self.process(&data)
    }

    fn one_shot(&mut self, input: &[u8]) -> Result<Vec<u8>> {
        self.process(input)
    }

    fn update_bound(&self, n: usize) -> usize {
        n
    }

    fn final_bound(&self) -> usize {
        self.buf.len() + if self.encrypt { self.tag_len } else { 0 }
    }
}
