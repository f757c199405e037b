//! NIST SP 800-108 KDFs through liboxihsm.so (counter, feedback and double-pipeline modes,
//! HMAC and CMAC PRFs, DKM length, additional derived keys), checked against a reference
//! written here from SP 800-108 on top of the RustCrypto hmac and cmac crates.

mod common;
use common::*;
use cryptoki_sys::*;
use hmac::Mac;
use std::ptr::null_mut;

fn hmac256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().to_vec()
}

fn counter_fmt(bits: CK_ULONG, little: bool) -> CK_SP800_108_COUNTER_FORMAT {
    CK_SP800_108_COUNTER_FORMAT { bLittleEndian: little as u8, ulWidthInBits: bits }
}

fn dp<T>(ty: CK_ULONG, v: &mut T) -> CK_PRF_DATA_PARAM {
    CK_PRF_DATA_PARAM { type_: ty, pValue: (v as *mut T).cast(), ulValueLen: size_of::<T>() as CK_ULONG }
}

fn bytes_param(v: &mut [u8]) -> CK_PRF_DATA_PARAM {
    CK_PRF_DATA_PARAM { type_: CK_SP800_108_BYTE_ARRAY, pValue: v.as_mut_ptr().cast(), ulValueLen: v.len() as CK_ULONG }
}

/// A readable generic secret template of `len` bytes.
struct Tmpl {
    class: CK_ULONG,
    kt: CK_ULONG,
    len: CK_ULONG,
    f: u8,
    t: u8,
    attrs: Vec<CK_ATTRIBUTE>,
}

impl Tmpl {
    fn new(len: usize) -> Box<Tmpl> {
        let mut b = Box::new(Tmpl {
            class: CKO_SECRET_KEY,
            kt: CKK_GENERIC_SECRET,
            len: len as CK_ULONG,
            f: 0,
            t: 1,
            attrs: Vec::new(),
        });
        b.attrs = vec![
            CK_ATTRIBUTE { type_: CKA_CLASS, pValue: (&raw mut b.class).cast(), ulValueLen: 8 },
            CK_ATTRIBUTE { type_: CKA_KEY_TYPE, pValue: (&raw mut b.kt).cast(), ulValueLen: 8 },
            CK_ATTRIBUTE { type_: CKA_VALUE_LEN, pValue: (&raw mut b.len).cast(), ulValueLen: 8 },
            CK_ATTRIBUTE { type_: CKA_SENSITIVE, pValue: (&raw mut b.f).cast(), ulValueLen: 1 },
            CK_ATTRIBUTE { type_: CKA_EXTRACTABLE, pValue: (&raw mut b.t).cast(), ulValueLen: 1 },
        ];
        b
    }
}

fn value(s: &RawSession, o: CK_OBJECT_HANDLE) -> Vec<u8> {
    let mut buf = vec![0u8; 256];
    let mut a = CK_ATTRIBUTE { type_: CKA_VALUE, pValue: buf.as_mut_ptr().cast(), ulValueLen: 256 };
    // SAFETY: a 256-byte buffer.
    assert_eq!(unsafe { s.lib.C_GetAttributeValue(s.h, o, &mut a, 1) }, CKR_OK);
    buf.truncate(a.ulValueLen as usize);
    buf
}

fn derive<P>(
    s: &RawSession,
    ty: CK_MECHANISM_TYPE,
    params: &mut P,
    base: CK_OBJECT_HANDLE,
    t: &mut Tmpl,
) -> RawResult<CK_OBJECT_HANDLE> {
    derive_with(s, ty, params, base, &mut t.attrs)
}

/// As [`derive`], with any template.
fn derive_with<P>(
    s: &RawSession,
    ty: CK_MECHANISM_TYPE,
    params: &mut P,
    base: CK_OBJECT_HANDLE,
    attrs: &mut [CK_ATTRIBUTE],
) -> RawResult<CK_OBJECT_HANDLE> {
    let mut m = mech(ty, Some(params));
    let mut o = 0;
    // SAFETY: live mechanism, parameters and template.
    let rv = unsafe { s.lib.C_DeriveKey(s.h, &mut m, base, attrs.as_mut_ptr(), attrs.len() as _, &mut o) };
    if rv == CKR_OK { Ok(o) } else { Err(rv) }
}

/// An additional derived key of template `attrs`, its handle written to `h`.
fn additional(attrs: &mut [CK_ATTRIBUTE], h: &mut CK_OBJECT_HANDLE) -> CK_DERIVED_KEY {
    CK_DERIVED_KEY { pTemplate: attrs.as_mut_ptr(), ulAttributeCount: attrs.len() as _, phKey: h }
}

/// Feedback-mode parameters over HMAC-SHA256, with no additional keys.
fn feedback_params(data: &mut [CK_PRF_DATA_PARAM], iv: &mut [u8]) -> CK_SP800_108_FEEDBACK_KDF_PARAMS {
    CK_SP800_108_FEEDBACK_KDF_PARAMS {
        prfType: CKM_SHA256_HMAC,
        ulNumberOfDataParams: data.len() as _,
        pDataParams: data.as_mut_ptr(),
        ulIVLen: iv.len() as _,
        pIV: if iv.is_empty() { null_mut() } else { iv.as_mut_ptr() },
        ulAdditionalDerivedKeys: 0,
        pAdditionalDerivedKeys: null_mut(),
    }
}

fn setup() -> (Harness, cryptoki::context::Pkcs11, RawSession, Vec<u8>, CK_OBJECT_HANDLE) {
    let h = Harness::new();
    let p = h.ctx();
    let slot = init_token(&p, "kbkdf");
    let sess = user_session(&p, slot);
    let s = RawSession::new(&h, &sess);
    std::mem::forget(sess);
    let ki: Vec<u8> = (0..32u8).map(|i| i.wrapping_mul(7) ^ 0x11).collect();
    let base = s.secret_key(CKK_GENERIC_SECRET, &ki).unwrap();
    (h, p, s, ki, base)
}

#[test]
fn counter_mode_with_an_additional_key() {
    let (_h, _p, s, ki, base) = setup();
    let mut ctr = counter_fmt(32, false);
    let mut label = b"oxihsm label".to_vec();
    let mut zero = vec![0u8];
    let mut context = b"context".to_vec();
    let mut dkm = CK_SP800_108_DKM_LENGTH_FORMAT {
        dkmLengthMethod: CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS,
        bLittleEndian: 0,
        ulWidthInBits: 32,
    };
    let mut data = [
        dp(CK_SP800_108_ITERATION_VARIABLE, &mut ctr),
        bytes_param(&mut label),
        bytes_param(&mut zero),
        bytes_param(&mut context),
        dp(CK_SP800_108_DKM_LENGTH, &mut dkm),
    ];
    let mut extra_t = Tmpl::new(16);
    let mut extra_h: CK_OBJECT_HANDLE = 0;
    let mut extra = [additional(&mut extra_t.attrs, &mut extra_h)];
    let mut p = CK_SP800_108_KDF_PARAMS {
        prfType: CKM_SHA256_HMAC,
        ulNumberOfDataParams: data.len() as _,
        pDataParams: data.as_mut_ptr(),
        ulAdditionalDerivedKeys: 1,
        pAdditionalDerivedKeys: extra.as_mut_ptr(),
    };
    let k = derive(&s, CKM_SP800_108_COUNTER_KDF, &mut p, base, &mut Tmpl::new(40)).unwrap();
    // Reference: K(i) = HMAC(KI, [i]32 || label || 0x00 || context || [L]32), L = 56 bytes.
    let l = (56u32 * 8).to_be_bytes();
    let mut want = Vec::new();
    for i in 1..=2u32 {
        want.extend(hmac256(&ki, &[&i.to_be_bytes(), b"oxihsm label", &[0], b"context", &l]));
    }
    assert_eq!(value(&s, k), want[..40]);
    assert_ne!(extra_h, 0, "the additional key's handle is written back");
    assert_eq!(value(&s, extra_h), want[40..56]);
    // The DKM length may be given once only.
    let mut dkm2 = dkm;
    let mut twice = [
        dp(CK_SP800_108_ITERATION_VARIABLE, &mut ctr),
        dp(CK_SP800_108_DKM_LENGTH, &mut dkm),
        dp(CK_SP800_108_DKM_LENGTH, &mut dkm2),
    ];
    let mut p = CK_SP800_108_KDF_PARAMS {
        prfType: CKM_SHA256_HMAC,
        ulNumberOfDataParams: twice.len() as _,
        pDataParams: twice.as_mut_ptr(),
        ulAdditionalDerivedKeys: 0,
        pAdditionalDerivedKeys: null_mut(),
    };
    assert_eq!(
        derive(&s, CKM_SP800_108_COUNTER_KDF, &mut p, base, &mut Tmpl::new(16)),
        Err(CKR_MECHANISM_PARAM_INVALID)
    );

    // Little-endian 16-bit counter, no DKM length, CMAC PRF over an AES base key.
    let aes_key: Vec<u8> = (0..16u8).collect();
    let aes_base = s.secret_key(CKK_AES, &aes_key).unwrap();
    let mut ctr = counter_fmt(16, true);
    let mut data = [dp(CK_SP800_108_ITERATION_VARIABLE, &mut ctr), bytes_param(&mut label)];
    let mut p = CK_SP800_108_KDF_PARAMS {
        prfType: CKM_AES_CMAC,
        ulNumberOfDataParams: 2,
        pDataParams: data.as_mut_ptr(),
        ulAdditionalDerivedKeys: 0,
        pAdditionalDerivedKeys: null_mut(),
    };
    let k = derive(&s, CKM_SP800_108_COUNTER_KDF, &mut p, aes_base, &mut Tmpl::new(20)).unwrap();
    let mut want = Vec::new();
    for i in 1..=2u16 {
        let mut c = <cmac::Cmac<aes::Aes128> as cmac::Mac>::new_from_slice(&aes_key).unwrap();
        cmac::Mac::update(&mut c, &i.to_le_bytes());
        cmac::Mac::update(&mut c, b"oxihsm label");
        want.extend(cmac::Mac::finalize(c).into_bytes());
    }
    assert_eq!(value(&s, k), want[..20]);

    // Counter mode needs a counter format on its iteration variable; keys need a length.
    let mut data = [CK_PRF_DATA_PARAM { type_: CK_SP800_108_ITERATION_VARIABLE, pValue: null_mut(), ulValueLen: 0 }];
    let mut p = CK_SP800_108_KDF_PARAMS {
        prfType: CKM_SHA256_HMAC,
        ulNumberOfDataParams: 1,
        pDataParams: data.as_mut_ptr(),
        ulAdditionalDerivedKeys: 0,
        pAdditionalDerivedKeys: null_mut(),
    };
    assert_eq!(
        derive(&s, CKM_SP800_108_COUNTER_KDF, &mut p, base, &mut Tmpl::new(16)),
        Err(CKR_MECHANISM_PARAM_INVALID)
    );
    let mut ctr = counter_fmt(8, false);
    let mut data = [dp(CK_SP800_108_ITERATION_VARIABLE, &mut ctr)];
    let mut p = CK_SP800_108_KDF_PARAMS {
        prfType: CKM_SHA256,
        ulNumberOfDataParams: 1,
        pDataParams: data.as_mut_ptr(),
        ulAdditionalDerivedKeys: 0,
        pAdditionalDerivedKeys: null_mut(),
    };
    assert_eq!(
        derive(&s, CKM_SP800_108_COUNTER_KDF, &mut p, base, &mut Tmpl::new(16)),
        Err(CKR_MECHANISM_PARAM_INVALID),
        "a digest is no PRF"
    );
    // An additional key with nowhere to put its handle (phKey NULL): refused, and no key made.
    p.prfType = CKM_SHA256_HMAC;
    let mut extra_t = Tmpl::new(16);
    let mut unused = 0;
    let mut extra = [additional(&mut extra_t.attrs, &mut unused)];
    extra[0].phKey = null_mut();
    p.ulAdditionalDerivedKeys = 1;
    p.pAdditionalDerivedKeys = extra.as_mut_ptr();
    let before = s.find(&mut T::default().ulong(CKA_CLASS, CKO_SECRET_KEY)).unwrap().len();
    assert_eq!(
        derive(&s, CKM_SP800_108_COUNTER_KDF, &mut p, base, &mut Tmpl::new(16)),
        Err(CKR_MECHANISM_PARAM_INVALID),
        "an additional key without phKey"
    );
    assert_eq!(s.find(&mut T::default().ulong(CKA_CLASS, CKO_SECRET_KEY)).unwrap().len(), before);
}

#[test]
fn feedback_and_double_pipeline_modes() {
    let (_h, _p, s, ki, base) = setup();
    let mut label = b"fixed input".to_vec();
    let mut ctr = counter_fmt(8, false);
    let mut iv = b"initial value".to_vec();
    let mut data = [
        CK_PRF_DATA_PARAM { type_: CK_SP800_108_ITERATION_VARIABLE, pValue: null_mut(), ulValueLen: 0 },
        dp(CK_SP800_108_OPTIONAL_COUNTER, &mut ctr),
        bytes_param(&mut label),
    ];
    let mut p = feedback_params(&mut data, &mut iv);
    let k = derive(&s, CKM_SP800_108_FEEDBACK_KDF, &mut p, base, &mut Tmpl::new(70)).unwrap();
    // Reference: K(0) = IV, K(i) = HMAC(KI, K(i-1) || [i]8 || fixed).
    let mut want = Vec::new();
    let mut prev = b"initial value".to_vec();
    for i in 1..=3u8 {
        prev = hmac256(&ki, &[&prev, &[i], b"fixed input"]);
        want.extend_from_slice(&prev);
    }
    assert_eq!(value(&s, k), want[..70]);

    // Double pipeline: A(0) = fixed input, A(i) = HMAC(KI, A(i-1)), K(i) = HMAC(KI, A(i) || fixed).
    let mut data = [
        CK_PRF_DATA_PARAM { type_: CK_SP800_108_ITERATION_VARIABLE, pValue: null_mut(), ulValueLen: 0 },
        bytes_param(&mut label),
    ];
    let mut p = CK_SP800_108_KDF_PARAMS {
        prfType: CKM_SHA256_HMAC,
        ulNumberOfDataParams: 2,
        pDataParams: data.as_mut_ptr(),
        ulAdditionalDerivedKeys: 0,
        pAdditionalDerivedKeys: null_mut(),
    };
    let k = derive(&s, CKM_SP800_108_DOUBLE_PIPELINE_KDF, &mut p, base, &mut Tmpl::new(48)).unwrap();
    let mut want = Vec::new();
    let mut a = b"fixed input".to_vec();
    for _ in 0..2 {
        a = hmac256(&ki, &[&a]);
        want.extend(hmac256(&ki, &[&a, b"fixed input"]));
    }
    assert_eq!(value(&s, k), want[..48]);
}

/// An absurd CKA_VALUE_LEN is refused before anything is allocated (found by fuzzing
/// mechanism parameters: it used to abort the process on allocation failure).
#[test]
fn absurd_value_len_is_refused() {
    let (_h, _p, s, _ki, base) = setup();
    let mut ctr = counter_fmt(32, false);
    let mut data = [dp(CK_SP800_108_ITERATION_VARIABLE, &mut ctr)];
    let mut p = CK_SP800_108_KDF_PARAMS {
        prfType: CKM_SHA256_HMAC,
        ulNumberOfDataParams: 1,
        pDataParams: data.as_mut_ptr(),
        ulAdditionalDerivedKeys: 0,
        pAdditionalDerivedKeys: null_mut(),
    };
    for len in [1usize << 40, usize::MAX >> 1, 64 * 1024 + 1] {
        let r = derive(&s, CKM_SP800_108_COUNTER_KDF, &mut p, base, &mut Tmpl::new(len));
        assert_eq!(r, Err(CKR_ATTRIBUTE_VALUE_INVALID), "CKA_VALUE_LEN {len}");
    }
    // Within range it still works.
    derive(&s, CKM_SP800_108_COUNTER_KDF, &mut p, base, &mut Tmpl::new(64)).unwrap();
}

/// The data parameters' rules: counter widths of 8, 16, 24 or 32 bits only, and a counter
/// that must hold the number of blocks; the DKM length as the sum of the PRF's segments; a
/// key's value as a data parameter; one iteration variable and at most one optional counter
/// in feedback and double-pipeline modes, with no format there; the base key's
/// CKA_DERIVE_TEMPLATE imposed.
#[test]
fn data_parameter_rules() {
    let (_h, _p, s, ki, base) = setup();
    let params = |data: &mut [CK_PRF_DATA_PARAM]| CK_SP800_108_KDF_PARAMS {
        prfType: CKM_SHA256_HMAC,
        ulNumberOfDataParams: data.len() as _,
        pDataParams: data.as_mut_ptr(),
        ulAdditionalDerivedKeys: 0,
        pAdditionalDerivedKeys: null_mut(),
    };
    let counter = |data: &mut [CK_PRF_DATA_PARAM], len: usize| {
        derive(&s, CKM_SP800_108_COUNTER_KDF, &mut params(data), base, &mut Tmpl::new(len))
    };
    let invalid = Err(CKR_MECHANISM_PARAM_INVALID);
    for bits in [0, 12, 40, 64] {
        let mut ctr = counter_fmt(bits, false);
        assert_eq!(counter(&mut [dp(CK_SP800_108_ITERATION_VARIABLE, &mut ctr)], 16), invalid, "{bits} bits");
    }
    // An 8-bit counter counts 255 blocks of SHA-256 at most.
    let mut ctr = counter_fmt(8, false);
    let k = counter(&mut [dp(CK_SP800_108_ITERATION_VARIABLE, &mut ctr)], 255 * 32).unwrap();
    assert_eq!(s.get_bytes(k, CKA_VALUE).unwrap().len(), 255 * 32);
    assert_eq!(counter(&mut [dp(CK_SP800_108_ITERATION_VARIABLE, &mut ctr)], 255 * 32 + 1), invalid);

    // The DKM length as the sum of the segments: 40 bytes take two SHA-256 blocks, 512 bits.
    let mut ctr = counter_fmt(32, false);
    let mut dkm = CK_SP800_108_DKM_LENGTH_FORMAT {
        dkmLengthMethod: CK_SP800_108_DKM_LENGTH_SUM_OF_SEGMENTS,
        bLittleEndian: 1,
        ulWidthInBits: 16,
    };
    let k = counter(&mut [dp(CK_SP800_108_ITERATION_VARIABLE, &mut ctr), dp(CK_SP800_108_DKM_LENGTH, &mut dkm)], 40);
    let want: Vec<u8> = (1..=2u32).flat_map(|i| hmac256(&ki, &[&i.to_be_bytes(), &512u16.to_le_bytes()])).collect();
    assert_eq!(value(&s, k.unwrap()), want[..40]);

    // A key's value as a data parameter: as the same bytes given as a byte array.
    let mut label = b"a label in a key".to_vec();
    let mut label_key = s.secret_key(CKK_GENERIC_SECRET, &label).unwrap();
    let by_bytes = counter(&mut [dp(CK_SP800_108_ITERATION_VARIABLE, &mut ctr), bytes_param(&mut label)], 32);
    let by_key =
        counter(&mut [dp(CK_SP800_108_ITERATION_VARIABLE, &mut ctr), dp(CK_SP800_108_KEY_HANDLE, &mut label_key)], 32);
    assert_eq!(value(&s, by_key.unwrap()), value(&s, by_bytes.unwrap()));
    assert_eq!(value(&s, by_bytes.unwrap()), hmac256(&ki, &[&1u32.to_be_bytes(), &label]));

    // Feedback and double-pipeline modes: the iteration variable once and without a format,
    // an optional counter at most once.
    let iteration = || CK_PRF_DATA_PARAM { type_: CK_SP800_108_ITERATION_VARIABLE, pValue: null_mut(), ulValueLen: 0 };
    let (mut c1, mut c2, mut c3) = (counter_fmt(8, false), counter_fmt(8, false), counter_fmt(8, false));
    let cases: [&mut [CK_PRF_DATA_PARAM]; 3] = [
        &mut [iteration(), iteration()],
        &mut [iteration(), dp(CK_SP800_108_OPTIONAL_COUNTER, &mut c1), dp(CK_SP800_108_OPTIONAL_COUNTER, &mut c2)],
        &mut [dp(CK_SP800_108_ITERATION_VARIABLE, &mut c3)],
    ];
    for data in cases {
        assert_eq!(derive(&s, CKM_SP800_108_DOUBLE_PIPELINE_KDF, &mut params(data), base, &mut Tmpl::new(16)), invalid);
        let mut p = feedback_params(data, &mut []);
        assert_eq!(derive(&s, CKM_SP800_108_FEEDBACK_KDF, &mut p, base, &mut Tmpl::new(16)), invalid);
    }

    // The base key's CKA_DERIVE_TEMPLATE: its CKA_EXTRACTABLE false against the template's true.
    let strict = s
        .create(
            &mut T::secret(CKK_GENERIC_SECRET)
                .bytes(CKA_VALUE, &ki)
                .nested(CKA_DERIVE_TEMPLATE, &mut T::default().flag(CKA_EXTRACTABLE, false)),
        )
        .unwrap();
    let mut data = [dp(CK_SP800_108_ITERATION_VARIABLE, &mut ctr)];
    let r = derive(&s, CKM_SP800_108_COUNTER_KDF, &mut params(&mut data), strict, &mut Tmpl::new(16));
    assert_eq!(r, Err(CKR_TEMPLATE_INCONSISTENT));

    // A key type of one length needs no CKA_VALUE_LEN: a Triple DES key of 24 bytes (with
    // odd parity), and an additional generic secret key after it, from one key stream.
    let mut des3 = T::secret(CKK_DES3).flag(CKA_SENSITIVE, false).flag(CKA_EXTRACTABLE, true);
    let mut extra_h: CK_OBJECT_HANDLE = 0;
    let mut extra_t = Tmpl::new(8);
    let mut extra = [additional(&mut extra_t.attrs, &mut extra_h)];
    let mut p = params(&mut data);
    (p.ulAdditionalDerivedKeys, p.pAdditionalDerivedKeys) = (1, extra.as_mut_ptr());
    let k = derive_with(&s, CKM_SP800_108_COUNTER_KDF, &mut p, base, &mut des3.attrs).unwrap();
    let stream = hmac256(&ki, &[&1u32.to_be_bytes()]);
    let key = s.get_bytes(k, CKA_VALUE).unwrap();
    assert_eq!(key.len(), 24);
    assert!(key.iter().zip(&stream).all(|(a, b)| a & 0xfe == b & 0xfe && a.count_ones() % 2 == 1), "{key:02x?}");
    assert_eq!(value(&s, extra_h), stream[24..32]);

    // All the keys or none: an additional key's template refused leaves no primary key.
    let keys = || s.find(&mut T::default().ulong(CKA_CLASS, CKO_SECRET_KEY)).unwrap().len();
    let before = keys();
    let mut bad = T::secret(CKK_GENERIC_SECRET).ulong(CKA_VALUE_LEN, 16).ulong(CKA_MODULUS_BITS, 1);
    let mut extra_h: CK_OBJECT_HANDLE = 0;
    let mut extra = [additional(&mut bad.attrs, &mut extra_h)];
    let mut p = params(&mut data);
    (p.ulAdditionalDerivedKeys, p.pAdditionalDerivedKeys) = (1, extra.as_mut_ptr());
    let r = derive(&s, CKM_SP800_108_COUNTER_KDF, &mut p, base, &mut Tmpl::new(16));
    assert_eq!((r, extra_h), (Err(CKR_ATTRIBUTE_TYPE_INVALID), 0));
    assert_eq!(keys(), before);
}
