//! Helpers shared by the fuzz targets: a cursor over the fuzzer's bytes, and builders of the
//! C structures the module decodes (CK_ATTRIBUTE arrays) whose embedded pointers all point
//! into buffers owned here, valid for the lengths they declare, as the PKCS#11 caller
//! contract requires. Everything else about them (types, lengths, values) comes from the
//! fuzzer.

use cryptoki_sys::*;
use std::ffi::c_void;

/// Reads structured values from fuzz input; past the end everything reads as zero.
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Input<'a> {
        Input { data }
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    pub fn u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        for x in &mut b {
            *x = self.u8();
        }
        u64::from_le_bytes(b)
    }

    /// A small count or length: mostly tiny, sometimes a field-sized value.
    pub fn len(&mut self) -> usize {
        match self.u8() {
            0..=239 => usize::from(self.u8() % 64),
            240..=251 => usize::from(self.u8()),
            _ => (self.u64() % 4096) as usize,
        }
    }

    /// Up to `n` bytes (fewer at the end of input).
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let n = n.min(self.data.len());
        let (a, b) = self.data.split_at(n);
        self.data = b;
        a.to_vec()
    }

    /// One of `choices`, or (rarely) an arbitrary value.
    pub fn pick(&mut self, choices: &[u64]) -> u64 {
        let i = self.u8() as usize;
        if i < choices.len() * 8 { choices[i % choices.len()] } else { self.u64() }
    }

    /// An iteration count for a password KDF: as `pick`, but an arbitrary count the module
    /// would accept (at most u32::MAX) is held to 1000, so that no input spends minutes
    /// hashing; counts past u32::MAX, which decoding refuses, stay.
    pub fn iterations(&mut self, choices: &[u64]) -> u64 {
        match self.pick(choices) {
            1001..=0xffff_ffff => 1000,
            n => n,
        }
    }
}

/// The fixed-bit counts and IV/nonce generators the GCM and CCM wrap parameters draw from
/// (a count over any IV's length and an unknown generator among them).
const FIXED_BITS: [CK_ULONG; 5] = [0, 32, 8, 7, 1 << 20];
const GENERATORS: [CK_ULONG; 5] = [CKG_GENERATE, CKG_NO_GENERATE, CKG_GENERATE_RANDOM, CKG_GENERATE_COUNTER, 9];

/// Attribute types the module knows, so that the fuzzer reaches past the type check.
pub const ATTRIBUTE_TYPES: &[u64] = &[
    CKA_CLASS,
    CKA_TOKEN,
    CKA_PRIVATE,
    CKA_LABEL,
    CKA_APPLICATION,
    CKA_VALUE,
    CKA_OBJECT_ID,
    CKA_CERTIFICATE_TYPE,
    CKA_ISSUER,
    CKA_SERIAL_NUMBER,
    CKA_KEY_TYPE,
    CKA_SUBJECT,
    CKA_ID,
    CKA_SENSITIVE,
    CKA_ENCRYPT,
    CKA_DECRYPT,
    CKA_WRAP,
    CKA_UNWRAP,
    CKA_SIGN,
    CKA_SIGN_RECOVER,
    CKA_VERIFY,
    CKA_VERIFY_RECOVER,
    CKA_DERIVE,
    CKA_START_DATE,
    CKA_END_DATE,
    CKA_MODULUS,
    CKA_MODULUS_BITS,
    CKA_PUBLIC_EXPONENT,
    CKA_PRIVATE_EXPONENT,
    CKA_PRIME_1,
    CKA_PRIME_2,
    CKA_EXPONENT_1,
    CKA_EXPONENT_2,
    CKA_COEFFICIENT,
    CKA_VALUE_LEN,
    CKA_EXTRACTABLE,
    CKA_LOCAL,
    CKA_NEVER_EXTRACTABLE,
    CKA_ALWAYS_SENSITIVE,
    CKA_KEY_GEN_MECHANISM,
    CKA_MODIFIABLE,
    CKA_COPYABLE,
    CKA_DESTROYABLE,
    CKA_EC_PARAMS,
    CKA_EC_POINT,
    CKA_ALWAYS_AUTHENTICATE,
    CKA_WRAP_WITH_TRUSTED,
    CKA_TRUSTED,
    CKA_WRAP_TEMPLATE,
    CKA_UNWRAP_TEMPLATE,
    CKA_DERIVE_TEMPLATE,
    CKA_ALLOWED_MECHANISMS,
    CKA_UNIQUE_ID,
    CKA_CHECK_VALUE,
    CKA_PUBLIC_KEY_INFO,
    CKA_VALUE_BITS,
    CKA_HW_FEATURE_TYPE,
    CKA_CERTIFICATE_CATEGORY,
    CKA_URL,
    CKA_NAME_HASH_ALGORITHM,
    CKA_PARAMETER_SET,
    CKA_SEED,
    CKA_ENCAPSULATE,
    CKA_DECAPSULATE,
    CKA_ENCAPSULATE_TEMPLATE,
    CKA_DECAPSULATE_TEMPLATE,
    CKA_VENDOR_DEFINED,
];

/// A CK_ATTRIBUTE array and the buffers its pointers refer to.
#[derive(Default)]
pub struct Template {
    pub attrs: Vec<CK_ATTRIBUTE>,
    _values: Vec<Vec<u8>>,
    _nested: Vec<Template>,
}

impl Template {
    /// Builds a template of up to 16 attributes; nested templates up to `depth` deep.
    pub fn build(inp: &mut Input<'_>, depth: u32) -> Template {
        let mut t = Template::default();
        let n = inp.u8() % 16;
        for _ in 0..n {
            let ty = inp.pick(ATTRIBUTE_TYPES);
            let nested = matches!(
                ty,
                CKA_WRAP_TEMPLATE
                    | CKA_UNWRAP_TEMPLATE
                    | CKA_DERIVE_TEMPLATE
                    | CKA_ENCAPSULATE_TEMPLATE
                    | CKA_DECAPSULATE_TEMPLATE
            );
            let mode = inp.u8();
            if nested && depth > 0 && mode % 2 == 0 {
                let inner = Template::build(inp, depth - 1);
                let len = (inner.attrs.len() * size_of::<CK_ATTRIBUTE>()) as CK_ULONG;
                let ptr = inner.attrs.as_ptr() as *mut c_void;
                t.attrs.push(CK_ATTRIBUTE { type_: ty, pValue: ptr, ulValueLen: len });
                t._nested.push(inner);
                continue;
            }
            if nested {
                // An attribute array's bytes are CK_ATTRIBUTEs with pointers in them: a caller
                // may not pass arbitrary bytes there. NULL (any length) or an empty array.
                let p: *mut c_void = if mode % 2 == 0 {
                    std::ptr::null_mut()
                } else {
                    std::ptr::NonNull::<CK_ATTRIBUTE>::dangling().as_ptr().cast()
                };
                let len = if p.is_null() { inp.u64() } else { 0 };
                t.attrs.push(CK_ATTRIBUTE { type_: ty, pValue: p, ulValueLen: len });
                continue;
            }
            match mode % 8 {
                // NULL value with an arbitrary length (a size query in C_GetAttributeValue,
                // bad arguments elsewhere).
                0 => t.attrs.push(CK_ATTRIBUTE { type_: ty, pValue: std::ptr::null_mut(), ulValueLen: inp.u64() }),
                // A CK_ULONG or CK_BBOOL sized value.
                1 | 2 => {
                    let mut v = if mode % 8 == 1 { inp.u64().to_ne_bytes().to_vec() } else { vec![inp.u8() % 3] };
                    let ptr = v.as_mut_ptr().cast();
                    t.attrs.push(CK_ATTRIBUTE { type_: ty, pValue: ptr, ulValueLen: v.len() as CK_ULONG });
                    t._values.push(v);
                }
                // Arbitrary bytes; the declared length never exceeds the buffer.
                _ => {
                    let len = inp.len();
                    let mut v = inp.bytes(len);
                    let declared = if mode & 0x80 != 0 { v.len() / 2 } else { v.len() };
                    let ptr = v.as_mut_ptr().cast();
                    t.attrs.push(CK_ATTRIBUTE { type_: ty, pValue: ptr, ulValueLen: declared as CK_ULONG });
                    t._values.push(v);
                }
            }
        }
        t
    }
}

/// Keeps alive everything a built mechanism parameter points to.
#[derive(Default)]
pub struct Keep {
    bytes: Vec<Vec<u8>>,
    templates: Vec<Template>,
    handles: Vec<Box<CK_OBJECT_HANDLE>>,
    data_params: Vec<Vec<CK_PRF_DATA_PARAM>>,
    derived: Vec<Vec<CK_DERIVED_KEY>>,
    oaep: Vec<Box<CK_RSA_PKCS_OAEP_PARAMS>>,
    versions: Vec<Box<CK_VERSION>>,
    key_material: Vec<Box<CK_SSL3_KEY_MAT_OUT>>,
}

/// CK_SSL3_RANDOM_DATA over the client's and the server's random buffers.
fn random_data(client: (*mut u8, CK_ULONG), server: (*mut u8, CK_ULONG)) -> CK_SSL3_RANDOM_DATA {
    CK_SSL3_RANDOM_DATA {
        pClientRandom: client.0,
        ulClientRandomLen: client.1,
        pServerRandom: server.0,
        ulServerRandomLen: server.1,
    }
}

impl Keep {
    /// A byte buffer from the input: (pointer, declared length). The declared length never
    /// exceeds the buffer; a NULL pointer may come with any length.
    pub fn buf(&mut self, inp: &mut Input<'_>) -> (*mut u8, CK_ULONG) {
        match inp.u8() % 16 {
            0 => (std::ptr::null_mut(), 0),
            1 => (std::ptr::null_mut(), inp.u64() % 64),
            _ => {
                let len = inp.len();
                let mut v = inp.bytes(len);
                if v.is_empty() {
                    v.push(0);
                }
                let declared = (len.min(v.len())) as CK_ULONG;
                let p = v.as_mut_ptr();
                self.bytes.push(v);
                (p, declared)
            }
        }
    }

    /// Copies a plain-old-data `T` into a buffer a little larger than `T`, so that the
    /// declared parameter length can be wrong in both directions without an out-of-bounds
    /// read. Returns (pointer, declared length).
    pub fn param<T: Copy>(&mut self, inp: &mut Input<'_>, value: T) -> (*mut c_void, CK_ULONG) {
        self.param_avoiding(inp, value, &[])
    }

    /// As [`Keep::param`], never declaring a length in `avoid` (the size of another layout
    /// the module accepts, which would make the declared layout a lie about the pointers).
    pub fn param_avoiding<T: Copy>(
        &mut self,
        inp: &mut Input<'_>,
        value: T,
        avoid: &[usize],
    ) -> (*mut c_void, CK_ULONG) {
        let size = size_of::<T>();
        let mut v = vec![0u8; size + 16];
        // SAFETY: `value` is a live T of `size` bytes and `v` has room for them; T is plain
        // old data (a PKCS#11 parameter structure), so its bytes may be copied freely.
        unsafe { std::ptr::copy_nonoverlapping((&raw const value).cast::<u8>(), v.as_mut_ptr(), size) };
        let declared = match inp.u8() {
            0..=239 => size,
            240..=247 => size - size.min(8),
            248..=251 => size + 8,
            _ => (inp.u8() as usize) % (size + 17),
        };
        let declared = if avoid.contains(&declared) { size } else { declared };
        let p = v.as_mut_ptr().cast();
        self.bytes.push(v);
        (p, declared as CK_ULONG)
    }

    /// A per-message parameter for the message-based functions: a CK_GCM_MESSAGE_PARAMS,
    /// CK_CCM_MESSAGE_PARAMS or CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS (the module tells them
    /// apart by their sizes, so a declared length is never another one's). The tag buffer is
    /// 32 bytes, more than any tag length picked here: the module reads or writes as many as
    /// the parameter says.
    pub fn message_param(&mut self, inp: &mut Input<'_>) -> (*mut c_void, CK_ULONG) {
        let sizes = [
            size_of::<CK_GCM_MESSAGE_PARAMS>(),
            size_of::<CK_CCM_MESSAGE_PARAMS>(),
            size_of::<CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS>(),
        ];
        let (iv, iv_len) = self.buf(inp);
        let mut tag = vec![0u8; 32];
        tag.iter_mut().for_each(|b| *b = inp.u8());
        let tag_ptr = tag.as_mut_ptr();
        self.bytes.push(tag);
        let generators =
            [CKG_NO_GENERATE, CKG_GENERATE, CKG_GENERATE_COUNTER, CKG_GENERATE_RANDOM, CKG_GENERATE_COUNTER_XOR, 9];
        match inp.u8() % 3 {
            0 => {
                let g = CK_GCM_MESSAGE_PARAMS {
                    pIv: iv,
                    ulIvLen: iv_len,
                    ulIvFixedBits: inp.pick(&[0, 32, 64, 7, 1000]),
                    ivGenerator: inp.pick(&generators),
                    pTag: tag_ptr,
                    ulTagBits: inp.pick(&[128, 96, 64, 32, 8, 0, 136]),
                };
                self.param_avoiding(inp, g, &sizes[1..])
            }
            1 => {
                let c = CK_CCM_MESSAGE_PARAMS {
                    ulDataLen: if inp.u8() % 8 == 0 { inp.u64() } else { inp.u64() % 600 },
                    pNonce: iv,
                    ulNonceLen: iv_len,
                    ulNonceFixedBits: inp.pick(&[0, 16, 32, 7, 1000]),
                    nonceGenerator: inp.pick(&generators),
                    pMAC: tag_ptr,
                    ulMACLen: inp.pick(&[16, 8, 4, 3, 0, 17]),
                };
                self.param_avoiding(inp, c, &[sizes[0], sizes[2]])
            }
            _ => {
                let c = CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS { pNonce: iv, ulNonceLen: iv_len, pTag: tag_ptr };
                self.param_avoiding(inp, c, &sizes[..2])
            }
        }
    }

    fn counter_format(&mut self, inp: &mut Input<'_>) -> (*mut c_void, CK_ULONG) {
        let f = CK_SP800_108_COUNTER_FORMAT { bLittleEndian: inp.u8() % 2, ulWidthInBits: inp.pick(&[8, 16, 24, 32]) };
        self.param(inp, f)
    }

    fn prf_data(&mut self, inp: &mut Input<'_>) -> (*mut CK_PRF_DATA_PARAM, CK_ULONG) {
        let n = inp.u8() % 6;
        let mut list = Vec::new();
        for _ in 0..n {
            let ty = inp.pick(&[
                CK_SP800_108_ITERATION_VARIABLE,
                CK_SP800_108_OPTIONAL_COUNTER,
                CK_SP800_108_DKM_LENGTH,
                CK_SP800_108_BYTE_ARRAY,
                CK_SP800_108_KEY_HANDLE,
            ]);
            let (p, len) = match inp.u8() % 4 {
                0 => {
                    let (p, l) = self.buf(inp);
                    (p.cast(), l)
                }
                1 => self.counter_format(inp),
                2 => {
                    let f = CK_SP800_108_DKM_LENGTH_FORMAT {
                        dkmLengthMethod: inp
                            .pick(&[CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS, CK_SP800_108_DKM_LENGTH_SUM_OF_SEGMENTS]),
                        bLittleEndian: inp.u8() % 2,
                        ulWidthInBits: inp.pick(&[8, 16, 32, 64]),
                    };
                    self.param(inp, f)
                }
                _ => {
                    let h: CK_OBJECT_HANDLE = inp.u64() % 8;
                    self.param(inp, h)
                }
            };
            list.push(CK_PRF_DATA_PARAM { type_: ty, pValue: p, ulValueLen: len });
        }
        let p = if list.is_empty() { std::ptr::null_mut() } else { list.as_mut_ptr() };
        let n = list.len() as CK_ULONG;
        self.data_params.push(list);
        (p, n)
    }

    fn derived_keys(&mut self, inp: &mut Input<'_>) -> (*mut CK_DERIVED_KEY, CK_ULONG) {
        let n = inp.u8() % 3;
        let mut list = Vec::new();
        for _ in 0..n {
            let mut t = Template::build(inp, 0);
            let mut h = Box::new(0);
            let ph: *mut CK_OBJECT_HANDLE = if inp.u8() % 8 == 0 { std::ptr::null_mut() } else { &mut *h };
            let pt = if t.attrs.is_empty() { std::ptr::null_mut() } else { t.attrs.as_mut_ptr() };
            list.push(CK_DERIVED_KEY { pTemplate: pt, ulAttributeCount: t.attrs.len() as CK_ULONG, phKey: ph });
            self.templates.push(t);
            self.handles.push(h);
        }
        let p = if list.is_empty() { std::ptr::null_mut() } else { list.as_mut_ptr() };
        let n = list.len() as CK_ULONG;
        self.derived.push(list);
        (p, n)
    }

    fn oaep(&mut self, inp: &mut Input<'_>) -> CK_RSA_PKCS_OAEP_PARAMS {
        let (p, l) = self.buf(inp);
        CK_RSA_PKCS_OAEP_PARAMS {
            hashAlg: inp.pick(&[CKM_SHA_1, CKM_SHA224, CKM_SHA256, CKM_SHA384, CKM_SHA512]),
            mgf: inp.pick(&[CKG_MGF1_SHA1, CKG_MGF1_SHA224, CKG_MGF1_SHA256, CKG_MGF1_SHA384, CKG_MGF1_SHA512]),
            source: inp.pick(&[0, CKZ_DATA_SPECIFIED]),
            pSourceData: p.cast(),
            ulSourceDataLen: l,
        }
    }

    /// A parameter for `shape` (by the module's registry), or raw bytes for the shapes
    /// without embedded pointers.
    pub fn mechanism_param(
        &mut self,
        shape: oxihsm::mechanism::ParamShape,
        inp: &mut Input<'_>,
    ) -> (*mut c_void, CK_ULONG) {
        use oxihsm::mechanism::ParamShape as S;
        let hashes = [CKM_SHA_1, CKM_SHA224, CKM_SHA256, CKM_SHA384, CKM_SHA512, CKM_SHA3_256];
        match shape {
            // (GMAC's bare 12-byte IV of 2.40 comes from the raw-bytes arm of other shapes; a
            // raw buffer of a CK_GCM_PARAMS's size would carry pointers, so GMAC is built here.)
            S::Gcm | S::Gmac => {
                let (iv, iv_len) = self.buf(inp);
                let (aad, aad_len) = self.buf(inp);
                let g = CK_GCM_PARAMS {
                    pIv: iv,
                    ulIvLen: iv_len,
                    ulIvBits: inp.pick(&[iv_len * 8, 0, 96]),
                    pAAD: aad,
                    ulAADLen: aad_len,
                    ulTagBits: inp.pick(&[128, 96, 64, 32, 0, 8]),
                };
                // The three layouts the module tells apart by size: a declared length is never
                // another one's.
                let (v240, v3, wrap) =
                    (size_of::<[u64; 5]>(), size_of::<CK_GCM_PARAMS>(), size_of::<CK_GCM_WRAP_PARAMS>());
                match inp.u8() % 6 {
                    0 => {
                        // The PKCS#11 2.40 layout, without ulIvBits.
                        #[derive(Clone, Copy)]
                        #[repr(C)]
                        struct Gcm240(*mut u8, CK_ULONG, *mut u8, CK_ULONG, CK_ULONG);
                        let old = Gcm240(g.pIv, g.ulIvLen, g.pAAD, g.ulAADLen, g.ulTagBits);
                        self.param_avoiding(inp, old, &[v3, wrap])
                    }
                    1 => {
                        // 3.2's CK_GCM_WRAP_PARAMS (C_WrapKey/C_UnwrapKey), the IV written back
                        // into its buffer.
                        let w = CK_GCM_WRAP_PARAMS {
                            pIv: g.pIv,
                            ulIvLen: g.ulIvLen,
                            ulIvFixedBits: inp.pick(&FIXED_BITS),
                            ivGenerator: inp.pick(&GENERATORS),
                            pAAD: g.pAAD,
                            ulAADLen: g.ulAADLen,
                            ulTagBits: g.ulTagBits,
                        };
                        self.param_avoiding(inp, w, &[v240, v3])
                    }
                    _ => self.param_avoiding(inp, g, &[v240, wrap]),
                }
            }
            S::Ccm => {
                let (n, n_len) = self.buf(inp);
                let (aad, aad_len) = self.buf(inp);
                let c = CK_CCM_PARAMS {
                    ulDataLen: if inp.u8() % 8 == 0 { inp.u64() } else { inp.u64() % 300 },
                    pNonce: n,
                    ulNonceLen: n_len,
                    pAAD: aad,
                    ulAADLen: aad_len,
                    ulMACLen: inp.pick(&[4, 6, 8, 10, 12, 14, 16, 3, 0]),
                };
                // Two layouts told apart by size: CK_CCM_PARAMS and 3.2's CK_CCM_WRAP_PARAMS
                // (C_WrapKey/C_UnwrapKey, the nonce written back into its buffer).
                let (v3, wrap) = (size_of::<CK_CCM_PARAMS>(), size_of::<CK_CCM_WRAP_PARAMS>());
                if inp.u8() % 3 == 0 {
                    let w = CK_CCM_WRAP_PARAMS {
                        ulDataLen: c.ulDataLen,
                        pNonce: c.pNonce,
                        ulNonceLen: c.ulNonceLen,
                        ulNonceFixedBits: inp.pick(&FIXED_BITS),
                        nonceGenerator: inp.pick(&GENERATORS),
                        pAAD: c.pAAD,
                        ulAADLen: c.ulAADLen,
                        ulMACLen: c.ulMACLen,
                    };
                    self.param_avoiding(inp, w, &[v3])
                } else {
                    self.param_avoiding(inp, c, &[wrap])
                }
            }
            S::ChaChaPoly => {
                let (n, n_len) = self.buf(inp);
                let (aad, aad_len) = self.buf(inp);
                let c =
                    CK_SALSA20_CHACHA20_POLY1305_PARAMS { pNonce: n, ulNonceLen: n_len, pAAD: aad, ulAADLen: aad_len };
                self.param(inp, c)
            }
            S::IkePrf | S::Ike1Prf | S::Ike2PrfPlus | S::Ike1Extended => {
                let prf = inp.pick(&[CKM_SHA256_HMAC, CKM_SHA_1_HMAC, CKM_AES_XCBC_MAC, CKM_AES_CMAC, CKM_SHA256]);
                let (a, al) = self.buf(inp);
                let (b, bl) = self.buf(inp);
                let (flag, handle) = (inp.u8() % 3, inp.u64() % 8);
                match shape {
                    S::IkePrf => {
                        let p = CK_IKE_PRF_DERIVE_PARAMS {
                            prfMechanism: prf,
                            bDataAsKey: flag & 1,
                            bRekey: flag >> 1,
                            pNi: a,
                            ulNiLen: al,
                            pNr: b,
                            ulNrLen: bl,
                            hNewKey: handle,
                        };
                        self.param(inp, p)
                    }
                    S::Ike1Prf => {
                        let p = CK_IKE1_PRF_DERIVE_PARAMS {
                            prfMechanism: prf,
                            bHasPrevKey: flag & 1,
                            hKeygxy: handle,
                            hPrevKey: inp.u64() % 8,
                            pCKYi: a,
                            ulCKYiLen: al,
                            pCKYr: b,
                            ulCKYrLen: bl,
                            keyNumber: inp.u8(),
                        };
                        self.param(inp, p)
                    }
                    S::Ike2PrfPlus => {
                        let p = CK_IKE2_PRF_PLUS_DERIVE_PARAMS {
                            prfMechanism: prf,
                            bHasSeedKey: flag & 1,
                            hSeedKey: handle,
                            pSeedData: a,
                            ulSeedDataLen: al,
                        };
                        self.param(inp, p)
                    }
                    _ => {
                        let p = CK_IKE1_EXTENDED_DERIVE_PARAMS {
                            prfMechanism: prf,
                            bHasKeygxy: flag & 1,
                            hKeygxy: handle,
                            pExtraData: a,
                            ulExtraDataLen: al,
                        };
                        self.param(inp, p)
                    }
                }
            }
            S::EcdhAesWrap => {
                let (d, dl) = self.buf(inp);
                let p = CK_ECDH_AES_KEY_WRAP_PARAMS {
                    ulAESKeyBits: inp.pick(&[256, 128, 192, 100, 0]),
                    kdf: inp.pick(&[CKD_SHA256_KDF, CKD_NULL, CKD_SHA1_KDF_SP800, 0x77]),
                    ulSharedDataLen: dl,
                    pSharedData: d,
                };
                self.param(inp, p)
            }
            S::Pbe => {
                // The IV buffer holds the 8 bytes the DES mechanisms write into it, or is NULL.
                let mut iv = vec![0u8; 8];
                let piv = if inp.u8() % 8 == 0 { std::ptr::null_mut() } else { iv.as_mut_ptr() };
                self.bytes.push(iv);
                let (pw, pw_len) = self.buf(inp);
                let (salt, salt_len) = self.buf(inp);
                let p = CK_PBE_PARAMS {
                    pInitVector: piv,
                    pPassword: pw,
                    ulPasswordLen: pw_len,
                    pSalt: salt,
                    ulSaltLen: salt_len,
                    ulIteration: inp.iterations(&[1, 2, 0, 100]),
                };
                self.param(inp, p)
            }
            S::X942Dh1 | S::X942Dh2 => {
                let (o, ol) = self.buf(inp);
                let (y, yl) = self.buf(inp);
                let kdf = inp.pick(&[CKD_NULL, CKD_SHA1_KDF_ASN1, CKD_SHA1_KDF_CONCATENATE, 0x77]);
                if shape == S::X942Dh1 {
                    let p = CK_X9_42_DH1_DERIVE_PARAMS {
                        kdf,
                        ulOtherInfoLen: ol,
                        pOtherInfo: o,
                        ulPublicDataLen: yl,
                        pPublicData: y,
                    };
                    self.param(inp, p)
                } else {
                    let (y2, yl2) = self.buf(inp);
                    let p = CK_X9_42_DH2_DERIVE_PARAMS {
                        kdf,
                        ulOtherInfoLen: ol,
                        pOtherInfo: o,
                        ulPublicDataLen: yl,
                        pPublicData: y,
                        ulPrivateDataLen: 0,
                        hPrivateData: inp.u64() % 8,
                        ulPublicDataLen2: yl2,
                        pPublicData2: y2,
                    };
                    self.param(inp, p)
                }
            }
            S::ChaCha20 => {
                // The counter's buffer holds the widest counter (8 bytes), whatever width is
                // declared; the nonce's declared length is its buffer's (the module reads
                // ulNonceBits / 8 bytes).
                let mut counter = inp.bytes(8);
                counter.resize(8, 0);
                let pc = if inp.u8() % 8 == 0 { std::ptr::null_mut() } else { counter.as_mut_ptr() };
                self.bytes.push(counter);
                let (n, n_len) = self.buf(inp);
                let c = CK_CHACHA20_PARAMS {
                    pBlockCounter: pc,
                    blockCounterBits: inp.pick(&[32, 64, 16, 0, 128]),
                    pNonce: n,
                    ulNonceBits: n_len * 8,
                };
                self.param(inp, c)
            }
            S::Pbkdf2 => {
                let (salt, salt_len) = self.buf(inp);
                let (pw, pw_len) = self.buf(inp);
                // The password length as a value (3.0's CK_PKCS5_PBKD2_PARAMS2) or, now and
                // then, by pointer (2.40's CK_PKCS5_PBKD2_PARAMS): the module reads a value
                // from 64 KiB up as the address of the length, so it must be a real one.
                let pw_field = if inp.u8() % 4 == 0 {
                    let len = Box::new(pw_len);
                    let at = (&raw const *len) as CK_ULONG;
                    self.handles.push(len);
                    at
                } else {
                    pw_len
                };
                let p = CK_PKCS5_PBKD2_PARAMS2 {
                    saltSource: inp.pick(&[CKZ_SALT_SPECIFIED, 0, 2]),
                    pSaltSourceData: salt.cast(),
                    ulSaltSourceDataLen: salt_len,
                    iterations: inp.iterations(&[1, 2, 100, 0, 1 << 33]),
                    prf: inp.pick(&[1, 3, 4, 5, 6, 7, 8, 2, 0, 9]),
                    pPrfData: std::ptr::null_mut(),
                    ulPrfDataLen: inp.pick(&[0, 0, 0, 4]),
                    pPassword: pw,
                    ulPasswordLen: pw_field,
                };
                self.param(inp, p)
            }
            S::DerivationData => {
                let (p, l) = self.buf(inp);
                self.param(inp, CK_KEY_DERIVATION_STRING_DATA { pData: p, ulLen: l })
            }
            S::AesCbcData => {
                let mut iv = [0u8; 16];
                iv.iter_mut().for_each(|b| *b = inp.u8());
                let (p, l) = self.buf(inp);
                self.param(inp, CK_AES_CBC_ENCRYPT_DATA_PARAMS { iv, pData: p, length: l })
            }
            S::Des3CbcData => {
                let mut iv = [0u8; 8];
                iv.iter_mut().for_each(|b| *b = inp.u8());
                let (p, l) = self.buf(inp);
                self.param(inp, CK_DES_CBC_ENCRYPT_DATA_PARAMS { iv, pData: p, length: l })
            }
            S::Hkdf => {
                let (salt, salt_len) = self.buf(inp);
                let (info, info_len) = self.buf(inp);
                let h = CK_HKDF_PARAMS {
                    bExtract: inp.u8() % 2,
                    bExpand: inp.u8() % 2,
                    prfHashMechanism: inp.pick(&hashes),
                    ulSaltType: inp.pick(&[CKF_HKDF_SALT_NULL, CKF_HKDF_SALT_DATA, CKF_HKDF_SALT_KEY]),
                    pSalt: salt,
                    ulSaltLen: salt_len,
                    hSaltKey: inp.u64() % 8,
                    pInfo: info,
                    ulInfoLen: info_len,
                };
                self.param(inp, h)
            }
            S::Sp800 => {
                let (d, dn) = self.prf_data(inp);
                let (k, kn) = self.derived_keys(inp);
                let prf = inp.pick(&[CKM_SHA256_HMAC, CKM_SHA512_HMAC, CKM_AES_CMAC, CKM_SHA_1_HMAC]);
                let p = CK_SP800_108_KDF_PARAMS {
                    prfType: prf,
                    ulNumberOfDataParams: dn,
                    pDataParams: d,
                    ulAdditionalDerivedKeys: kn,
                    pAdditionalDerivedKeys: k,
                };
                self.param(inp, p)
            }
            S::Sp800Feedback => {
                let (d, dn) = self.prf_data(inp);
                let (k, kn) = self.derived_keys(inp);
                let (iv, iv_len) = self.buf(inp);
                let prf = inp.pick(&[CKM_SHA256_HMAC, CKM_SHA512_HMAC, CKM_AES_CMAC, CKM_SHA_1_HMAC]);
                let p = CK_SP800_108_FEEDBACK_KDF_PARAMS {
                    prfType: prf,
                    ulNumberOfDataParams: dn,
                    pDataParams: d,
                    ulIVLen: iv_len,
                    pIV: iv,
                    ulAdditionalDerivedKeys: kn,
                    pAdditionalDerivedKeys: k,
                };
                self.param(inp, p)
            }
            S::RsaOaep => {
                let o = self.oaep(inp);
                self.param(inp, o)
            }
            S::RsaAesWrap => {
                let mut o = Box::new(self.oaep(inp));
                let po: *mut CK_RSA_PKCS_OAEP_PARAMS = if inp.u8() % 8 == 0 { std::ptr::null_mut() } else { &mut *o };
                self.oaep.push(o);
                let p =
                    CK_RSA_AES_KEY_WRAP_PARAMS { ulAESKeyBits: inp.pick(&[128, 192, 256, 0, 100]), pOAEPParams: po };
                self.param(inp, p)
            }
            S::EdDsa if inp.u8() % 2 == 0 => (std::ptr::null_mut(), 0),
            S::EdDsa => {
                let (c, cl) = self.buf(inp);
                let e = CK_EDDSA_PARAMS { phFlag: inp.u8() % 2, ulContextDataLen: cl, pContextData: c };
                self.param(inp, e)
            }
            S::Ecdh => {
                let (s, sl) = self.buf(inp);
                let (pb, pl) = self.buf(inp);
                let e = CK_ECDH1_DERIVE_PARAMS {
                    kdf: inp.pick(&[CKD_NULL, CKD_SHA1_KDF, CKD_SHA256_KDF, CKD_SHA512_KDF]),
                    ulSharedDataLen: sl,
                    pSharedData: s,
                    ulPublicDataLen: pl,
                    pPublicData: pb,
                };
                self.param(inp, e)
            }
            S::SignContext if inp.u8() % 2 == 0 => (std::ptr::null_mut(), 0),
            S::SignContext => {
                let (c, cl) = self.buf(inp);
                let hedge = inp.pick(&[CKH_HEDGE_PREFERRED, CKH_HEDGE_REQUIRED, CKH_DETERMINISTIC_REQUIRED, 3]);
                self.param(inp, CK_SIGN_ADDITIONAL_CONTEXT { hedgeVariant: hedge, pContext: c, ulContextLen: cl })
            }
            S::HashSignContext => {
                let (c, cl) = self.buf(inp);
                let p = CK_HASH_SIGN_ADDITIONAL_CONTEXT {
                    hedgeVariant: inp.pick(&[CKH_HEDGE_PREFERRED, CKH_DETERMINISTIC_REQUIRED, 7]),
                    pContext: c,
                    ulContextLen: cl,
                    hash: inp.pick(&hashes),
                };
                self.param(inp, p)
            }
            S::TlsMaster | S::TlsExtendedMaster => {
                let (a, al) = self.buf(inp);
                let (b, bl) = self.buf(inp);
                let mut v = Box::new(CK_VERSION { major: 0, minor: 0 });
                let version: *mut CK_VERSION = if inp.u8() % 2 == 0 { std::ptr::null_mut() } else { &mut *v };
                self.versions.push(v);
                let prf = inp.pick(&[CKM_SHA256, CKM_SHA384, CKM_SHA_1, CKM_TLS_PRF]);
                if shape == S::TlsMaster {
                    let random = random_data((a, al), (b, bl));
                    self.param(
                        inp,
                        CK_TLS12_MASTER_KEY_DERIVE_PARAMS {
                            RandomInfo: random,
                            pVersion: version,
                            prfHashMechanism: prf,
                        },
                    )
                } else {
                    let p = CK_TLS12_EXTENDED_MASTER_KEY_DERIVE_PARAMS {
                        prfHashMechanism: prf,
                        pSessionHash: a,
                        ulSessionHashLen: al,
                        pVersion: version,
                    };
                    self.param(inp, p)
                }
            }
            S::TlsKeyMaterial => {
                let (a, al) = self.buf(inp);
                let (b, bl) = self.buf(inp);
                // IV buffers as long as the longest IV asked below (1024 bits).
                let mut ivs = [vec![0u8; 128], vec![0u8; 128]];
                let iv: [*mut u8; 2] =
                    [0, 1].map(|i| if inp.u8() % 8 == 0 { std::ptr::null_mut() } else { ivs[i].as_mut_ptr() });
                self.bytes.extend(ivs);
                let mut out = Box::new(CK_SSL3_KEY_MAT_OUT {
                    hClientMacSecret: 0,
                    hServerMacSecret: 0,
                    hClientKey: 0,
                    hServerKey: 0,
                    pIVClient: iv[0],
                    pIVServer: iv[1],
                });
                let out_ptr: *mut CK_SSL3_KEY_MAT_OUT =
                    if inp.u8() % 8 == 0 { std::ptr::null_mut() } else { &mut *out };
                self.key_material.push(out);
                let p = CK_TLS12_KEY_MAT_PARAMS {
                    ulMacSizeInBits: inp.pick(&[0, 160, 256, 384, 12]),
                    ulKeySizeInBits: inp.pick(&[0, 128, 256, 192, 64, 7]),
                    ulIVSizeInBits: inp.pick(&[0, 32, 64, 96, 128, 1024, 5]),
                    bIsExport: inp.u8() % 4 / 3,
                    RandomInfo: random_data((a, al), (b, bl)),
                    pReturnedKeyMaterial: out_ptr,
                    prfHashMechanism: inp.pick(&[CKM_SHA256, CKM_SHA384, CKM_MD5]),
                };
                self.param(inp, p)
            }
            S::TlsKdf => {
                let (l, ll) = self.buf(inp);
                let (a, al) = self.buf(inp);
                let (b, bl) = self.buf(inp);
                let (c, cl) = self.buf(inp);
                let p = CK_TLS_KDF_PARAMS {
                    prfMechanism: inp.pick(&[CKM_SHA256, CKM_SHA512, CKM_TLS_PRF, CKM_SHA3_256]),
                    pLabel: l,
                    ulLabelLength: ll,
                    RandomInfo: random_data((a, al), (b, bl)),
                    pContextData: c,
                    ulContextDataLength: cl,
                };
                self.param(inp, p)
            }
            // Plain data: IVs, counters, lengths, handles, PSS parameters, CK_TLS_MAC_PARAMS,
            // a CK_VERSION.
            _ => {
                let (p, l) = self.buf(inp);
                (p.cast(), l)
            }
        }
    }
}
