//! Mechanism parameter decoding and validation through the real C ABI: every registered
//! mechanism, with parameters whose fields, lengths and embedded buffers come from the
//! fuzzer, is started with C_EncryptInit, C_DecryptInit, C_SignInit, C_VerifyInit,
//! C_DigestInit, C_DeriveKey, C_GenerateKey, C_WrapKey, C_UnwrapKey, C_EncapsulateKey, C_DecapsulateKey or
//! C_VerifySignatureInit, or the message-based C_MessageEncryptInit/C_MessageDecryptInit with
//! fuzzed per-message parameters, on a fitting or unfitting key (or C_SetAttributeValue and
//! C_GetAttributeValue with fuzzed templates on a session copy of one, or an operation's
//! state saved and a changed or fuzzed one restored, or a multi-part encryption or decryption
//! checked never to write past the output length it is given, or 3.2's authenticated wrapping
//! with a fuzzed per-message parameter) (AES, Triple DES, ChaCha20, generic secret, EC, Ed25519, RSA,
//! ML-DSA, ML-KEM, DSA, DH, X9.42 DH), then run once. Every call returns a CK_RV; nothing panics, nothing reads out of bounds.
#![no_main]

use cryptoki_sys::*;
use libfuzzer_sys::fuzz_target;
use oxihsm::ffi::FUNCTION_LIST_3_2 as F;
use oxihsm_fuzz::{Input, Keep, Template};
use std::sync::OnceLock;

struct Setup {
    slot: CK_SLOT_ID,
    keys: Vec<CK_OBJECT_HANDLE>,
}

fn ok(rv: CK_RV, what: &str) {
    assert_eq!(rv, CKR_OK, "{what}");
}

const DSA_P: &str = "86F5CA03DCFEB225063FF830A0C769B9DD9D6153AD91D7CE27F787C43278B447E6533B86B18BED6E8A48B784A14C252C5BE0DBF60B86D6385BD2F12FB763ED8873ABFD3F5BA2E0A8C0A59082EAC056935E529DAF7C610467899C77ADEDFC846C881870B7B19B2B58F9BE0521A17002E3BDD6B86685EE90B3D9A1B02B782B1779";
const DSA_Q: &str = "996F967F6C8E388D9E28D01E205FBA957A5698B1";
const DSA_G: &str = "07B0F92546150B62514BB771E2A0C0CE387F03BDA6C56B505209FF25FD3C133D89BBCD97E904E09114D9A7DEFDEADFC9078EA544D2E401AEECC40BB9FBBF78FD87995A10A1C27CB7789B594BA7EFB5C4326A9FE59A070E136DB77175464ADCA417BE5DCE2F40D10A46A3A3943F26AB7FD9C0398FF8C76EE0A56826A8A88F1DBD";

fn attr<T>(ty: CK_ATTRIBUTE_TYPE, v: &T) -> CK_ATTRIBUTE {
    CK_ATTRIBUTE { type_: ty, pValue: (v as *const T).cast_mut().cast(), ulValueLen: size_of::<T>() as CK_ULONG }
}

fn bytes_attr(ty: CK_ATTRIBUTE_TYPE, v: &[u8]) -> CK_ATTRIBUTE {
    CK_ATTRIBUTE { type_: ty, pValue: v.as_ptr().cast_mut().cast(), ulValueLen: v.len() as CK_ULONG }
}

// SAFETY (for every call below): the function list's entries are the module's own C
// functions; every pointer passed refers to a live local of the declared length.
fn setup() -> &'static Setup {
    static S: OnceLock<Setup> = OnceLock::new();
    S.get_or_init(|| unsafe {
        let dir = Box::leak(Box::new(tempfile::tempdir().unwrap()));
        let conf = dir.path().join("oxihsm.toml");
        std::fs::write(
            &conf,
            format!(
                "token_dir = \"{}\"\n[pin_kdf]\nmemory_kib = 64\niterations = 1\nparallelism = 1\n",
                dir.path().join("tokens").display()
            ),
        )
        .unwrap();
        std::env::set_var("OXIHSM_CONF", &conf);
        ok(F.C_Initialize.unwrap()(std::ptr::null_mut()), "C_Initialize");
        let slot = 0;
        let label = [b' '; 32];
        let so = b"12345678";
        let user = b"1234";
        ok(F.C_InitToken.unwrap()(slot, so.as_ptr().cast_mut(), 8, label.as_ptr().cast_mut()), "C_InitToken");
        let mut s = 0;
        let flags = CKF_SERIAL_SESSION | CKF_RW_SESSION;
        ok(F.C_OpenSession.unwrap()(slot, flags, std::ptr::null_mut(), None, &mut s), "C_OpenSession");
        ok(F.C_Login.unwrap()(s, CKU_SO, so.as_ptr().cast_mut(), 8), "C_Login SO");
        ok(F.C_InitPIN.unwrap()(s, user.as_ptr().cast_mut(), 4), "C_InitPIN");
        ok(F.C_Logout.unwrap()(s), "C_Logout");
        ok(F.C_Login.unwrap()(s, CKU_USER, user.as_ptr().cast_mut(), 4), "C_Login");
        // This session stays open for the life of the process: it holds the login and the keys.
        let t: CK_BBOOL = CK_TRUE;
        let all = [CKA_ENCRYPT, CKA_DECRYPT, CKA_SIGN, CKA_VERIFY, CKA_WRAP, CKA_UNWRAP, CKA_DERIVE, CKA_EXTRACTABLE];
        let mut template: Vec<CK_ATTRIBUTE> = all.iter().map(|&a| attr(a, &t)).collect();
        let mut keys = Vec::new();
        let mut gen_key = |mech: CK_MECHANISM_TYPE, len: CK_ULONG| {
            let mut m = CK_MECHANISM { mechanism: mech, pParameter: std::ptr::null_mut(), ulParameterLen: 0 };
            let mut tpl = template.clone();
            tpl.push(attr(CKA_VALUE_LEN, &len));
            let mut h = 0;
            ok(F.C_GenerateKey.unwrap()(s, &mut m, tpl.as_mut_ptr(), tpl.len() as CK_ULONG, &mut h), "C_GenerateKey");
            keys.push(h);
        };
        gen_key(CKM_AES_KEY_GEN, 32);
        gen_key(CKM_GENERIC_SECRET_KEY_GEN, 32);
        gen_key(CKM_DES3_KEY_GEN, 24);
        gen_key(CKM_CHACHA20_KEY_GEN, 32);
        template.truncate(7);
        let p256 = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
        let ed25519 = [0x06, 0x03, 0x2b, 0x65, 0x70];
        let bits: CK_ULONG = 2048;
        let (dsa44, kem512): (CK_ULONG, CK_ULONG) = (CKP_ML_DSA_44, CKP_ML_KEM_512);
        // A 1024/160 DSA group; its p and g are a (small) Diffie-Hellman group too.
        let hex = |h: &str| {
            (0..h.len()).step_by(2).map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap()).collect::<Vec<u8>>()
        };
        let (dsa_p, dsa_q, dsa_g) = (hex(DSA_P), hex(DSA_Q), hex(DSA_G));
        let pairs: [(CK_MECHANISM_TYPE, Vec<CK_ATTRIBUTE>); 8] = [
            (CKM_EC_KEY_PAIR_GEN, vec![bytes_attr(CKA_EC_PARAMS, &p256)]),
            (CKM_EC_EDWARDS_KEY_PAIR_GEN, vec![bytes_attr(CKA_EC_PARAMS, &ed25519)]),
            (CKM_RSA_PKCS_KEY_PAIR_GEN, vec![attr(CKA_MODULUS_BITS, &bits)]),
            (CKM_ML_DSA_KEY_PAIR_GEN, vec![attr(CKA_PARAMETER_SET, &dsa44)]),
            (CKM_ML_KEM_KEY_PAIR_GEN, vec![attr(CKA_PARAMETER_SET, &kem512)]),
            (
                CKM_DSA_KEY_PAIR_GEN,
                vec![bytes_attr(CKA_PRIME, &dsa_p), bytes_attr(CKA_SUBPRIME, &dsa_q), bytes_attr(CKA_BASE, &dsa_g)],
            ),
            (CKM_DH_PKCS_KEY_PAIR_GEN, vec![bytes_attr(CKA_PRIME, &dsa_p), bytes_attr(CKA_BASE, &dsa_g)]),
            (
                CKM_X9_42_DH_KEY_PAIR_GEN,
                vec![bytes_attr(CKA_PRIME, &dsa_p), bytes_attr(CKA_SUBPRIME, &dsa_q), bytes_attr(CKA_BASE, &dsa_g)],
            ),
        ];
        for (mech, params) in pairs {
            let mut m = CK_MECHANISM { mechanism: mech, pParameter: std::ptr::null_mut(), ulParameterLen: 0 };
            let mut public = params;
            let agreement = matches!(mech, CKM_DH_PKCS_KEY_PAIR_GEN | CKM_X9_42_DH_KEY_PAIR_GEN);
            if mech != CKM_ML_KEM_KEY_PAIR_GEN && !agreement {
                public.push(attr(CKA_VERIFY, &t));
            }
            if mech == CKM_RSA_PKCS_KEY_PAIR_GEN {
                public.extend([attr(CKA_ENCRYPT, &t), attr(CKA_WRAP, &t)]);
            }
            let mut private =
                if mech == CKM_ML_KEM_KEY_PAIR_GEN || agreement { vec![] } else { vec![attr(CKA_SIGN, &t)] };
            match mech {
                CKM_RSA_PKCS_KEY_PAIR_GEN => private.extend([attr(CKA_DECRYPT, &t), attr(CKA_UNWRAP, &t)]),
                CKM_EC_KEY_PAIR_GEN => private.push(attr(CKA_DERIVE, &t)),
                _ if agreement => private.push(attr(CKA_DERIVE, &t)),
                _ => {}
            }
            let (mut hp, mut hq) = (0, 0);
            let rv = F.C_GenerateKeyPair.unwrap()(
                s,
                &mut m,
                public.as_mut_ptr(),
                public.len() as CK_ULONG,
                private.as_mut_ptr(),
                private.len() as CK_ULONG,
                &mut hp,
                &mut hq,
            );
            ok(rv, "C_GenerateKeyPair");
            keys.extend([hp, hq]);
        }
        keys.push(0x7fff_ffff);
        Setup { slot, keys }
    })
}

fuzz_target!(|data: &[u8]| {
    let setup = setup();
    let mut inp = Input::new(data);
    let registry = oxihsm::mechanism::registry();
    let pick = inp.u8() as usize;
    let (ty, shape) = if pick < 250 {
        let e = &registry[pick % registry.len()];
        (e.ty, e.params)
    } else {
        (inp.u64(), oxihsm::mechanism::ParamShape::None)
    };
    let mut keep = Keep::default();
    let (p, len) = keep.mechanism_param(shape, &mut inp);
    let mut m = CK_MECHANISM { mechanism: ty, pParameter: p, ulParameterLen: len };
    let key = setup.keys[inp.u8() as usize % setup.keys.len()];
    let key2 = setup.keys[inp.u8() as usize % setup.keys.len()];
    let op = inp.u8() % 16;
    let dlen = inp.len().min(512);
    let mut input = inp.bytes(dlen);
    let mut out = vec![0u8; 8192];
    let mut out_len: CK_ULONG = if inp.u8() % 8 == 0 { inp.u64() % 64 } else { out.len() as CK_ULONG };
    // The output length every call below is given (op 15 checks its own calls).
    let given = out_len as usize;
    // SAFETY: as in `setup`; `m`'s parameter and everything it points to live in `keep`.
    unsafe {
        let mut s = 0;
        let flags = CKF_SERIAL_SESSION | CKF_RW_SESSION;
        assert_eq!(F.C_OpenSession.unwrap()(setup.slot, flags, std::ptr::null_mut(), None, &mut s), CKR_OK);
        let (i, ip) = (input.len() as CK_ULONG, input.as_mut_ptr());
        let (o, ol) = (out.as_mut_ptr(), &raw mut out_len);
        match op {
            0 => {
                if F.C_EncryptInit.unwrap()(s, &mut m, key) == CKR_OK {
                    F.C_Encrypt.unwrap()(s, ip, i, o, ol);
                }
            }
            1 => {
                if F.C_DecryptInit.unwrap()(s, &mut m, key) == CKR_OK {
                    F.C_Decrypt.unwrap()(s, ip, i, o, ol);
                }
            }
            2 => {
                if F.C_SignInit.unwrap()(s, &mut m, key) == CKR_OK {
                    F.C_Sign.unwrap()(s, ip, i, o, ol);
                }
            }
            3 => {
                if F.C_VerifyInit.unwrap()(s, &mut m, key) == CKR_OK {
                    F.C_Verify.unwrap()(s, ip, i, o, (*ol).min(out.len() as CK_ULONG));
                }
            }
            4 => {
                if F.C_DigestInit.unwrap()(s, &mut m) == CKR_OK {
                    F.C_Digest.unwrap()(s, ip, i, o, ol);
                }
            }
            5 => {
                let mut t = Template::build(&mut inp, 1);
                let tp = if t.attrs.is_empty() { std::ptr::null_mut() } else { t.attrs.as_mut_ptr() };
                let mut h = 0;
                F.C_DeriveKey.unwrap()(s, &mut m, key, tp, t.attrs.len() as CK_ULONG, &mut h);
            }
            6 => {
                F.C_WrapKey.unwrap()(s, &mut m, key, key2, o, ol);
            }
            8 => {
                let mut t = Template::build(&mut inp, 1);
                let tp = if t.attrs.is_empty() { std::ptr::null_mut() } else { t.attrs.as_mut_ptr() };
                let mut h = 0;
                let ct = if inp.u8() % 4 == 0 { std::ptr::null_mut() } else { o };
                F.C_EncapsulateKey.unwrap()(s, &mut m, key, tp, t.attrs.len() as CK_ULONG, ct, ol, &mut h);
            }
            9 => {
                let mut t = Template::build(&mut inp, 1);
                let tp = if t.attrs.is_empty() { std::ptr::null_mut() } else { t.attrs.as_mut_ptr() };
                let mut h = 0;
                F.C_DecapsulateKey.unwrap()(s, &mut m, key, tp, t.attrs.len() as CK_ULONG, ip, i, &mut h);
            }
            10 => {
                let n = (*ol).min(out.len() as CK_ULONG);
                if F.C_VerifySignatureInit.unwrap()(s, &mut m, key, o, n) == CKR_OK {
                    F.C_VerifySignature.unwrap()(s, ip, i);
                }
            }
            // Not the domain parameter generators: a safe prime of thousands of bits takes
            // minutes, DSA-shaped parameters of 3072 bits tens of seconds here.
            11 if !matches!(ty, CKM_DSA_PARAMETER_GEN | CKM_DH_PKCS_PARAMETER_GEN | CKM_X9_42_DH_PARAMETER_GEN) => {
                let mut t = Template::build(&mut inp, 1);
                let tp = if t.attrs.is_empty() { std::ptr::null_mut() } else { t.attrs.as_mut_ptr() };
                let mut h = 0;
                F.C_GenerateKey.unwrap()(s, &mut m, tp, t.attrs.len() as CK_ULONG, &mut h);
            }
            12 if inp.u8() % 4 == 0 => {
                // 3.2's authenticated wrapping, with a fuzzed per-message parameter: a key of
                // the setup wrapped under this one, and fuzzed bytes unwrapped.
                let (pp, pl) = keep.message_param(&mut inp);
                let (aad, aad_len) = keep.buf(&mut inp);
                let mut am = CK_MECHANISM { mechanism: ty, pParameter: pp, ulParameterLen: pl };
                let target = setup.keys[inp.u8() as usize % setup.keys.len()];
                if inp.u8() % 2 == 0 {
                    F.C_WrapKeyAuthenticated.unwrap()(s, &mut am, key, target, aad, aad_len, o, ol);
                } else {
                    let mut t = Template::build(&mut inp, 1);
                    let tp = if t.attrs.is_empty() { std::ptr::null_mut() } else { t.attrs.as_mut_ptr() };
                    let mut h = 0;
                    let n = t.attrs.len() as CK_ULONG;
                    F.C_UnwrapKeyAuthenticated.unwrap()(s, &mut am, key, ip, i, tp, n, aad, aad_len, &mut h);
                }
            }
            12 => {
                // Message-based encryption or decryption: one whole message, or a message in
                // two parts, each with its own fuzzed per-message parameter.
                let encrypt = inp.u8() % 2 == 0;
                let init = if encrypt { F.C_MessageEncryptInit } else { F.C_MessageDecryptInit };
                if init.unwrap()(s, &mut m, key) == CKR_OK {
                    let (pp, pl) = keep.message_param(&mut inp);
                    let (aad, aad_len) = keep.buf(&mut inp);
                    if inp.u8() % 2 == 0 {
                        let f = if encrypt { F.C_EncryptMessage } else { F.C_DecryptMessage };
                        f.unwrap()(s, pp, pl, aad, aad_len, ip, i, o, ol);
                    } else {
                        let (begin, next) = if encrypt {
                            (F.C_EncryptMessageBegin.unwrap(), F.C_EncryptMessageNext.unwrap())
                        } else {
                            (F.C_DecryptMessageBegin.unwrap(), F.C_DecryptMessageNext.unwrap())
                        };
                        if begin(s, pp, pl, aad, aad_len) == CKR_OK {
                            let half = i / 2;
                            let mut part = (*ol).min(out.len() as CK_ULONG);
                            next(s, pp, pl, ip, half, o, &mut part, 0);
                            let mut rest = (*ol).min(out.len() as CK_ULONG);
                            next(s, pp, pl, ip.add(half as usize), i - half, o, &mut rest, CKF_END_OF_MESSAGE);
                        }
                    }
                }
            }
            13 => {
                // Attributes through the ABI on a session copy of the key (the copy goes with
                // the session): C_SetAttributeValue, then C_GetAttributeValue, each with a
                // fuzzed template (size queries, short buffers, nested templates).
                let mut copy = 0;
                if F.C_CopyObject.unwrap()(s, key, std::ptr::null_mut(), 0, &mut copy) == CKR_OK {
                    for set in [true, false] {
                        let mut t = Template::build(&mut inp, 1);
                        let tp = if t.attrs.is_empty() { std::ptr::null_mut() } else { t.attrs.as_mut_ptr() };
                        let n = t.attrs.len() as CK_ULONG;
                        if set {
                            F.C_SetAttributeValue.unwrap()(s, copy, tp, n);
                        } else {
                            F.C_GetAttributeValue.unwrap()(s, copy, tp, n);
                        }
                    }
                }
            }
            14 => {
                // Operation state: a digest or MAC started, its state saved (size query, then
                // the call), a state restored (the saved one with a byte changed, or the input's
                // bytes) with fuzzed key handles, and the operation finished.
                let sign = inp.u8() % 2 == 0;
                let started =
                    if sign { F.C_SignInit.unwrap()(s, &mut m, key) } else { F.C_DigestInit.unwrap()(s, &mut m) };
                if started == CKR_OK {
                    let mut n: CK_ULONG = 0;
                    F.C_GetOperationState.unwrap()(s, std::ptr::null_mut(), &mut n);
                    let mut state = vec![0u8; (n as usize).min(4096)];
                    let mut got = state.len() as CK_ULONG;
                    F.C_GetOperationState.unwrap()(s, state.as_mut_ptr(), &mut got);
                    state.truncate((got as usize).min(state.len()));
                    let mut blob = if inp.u8() % 2 == 0 && !state.is_empty() {
                        let at = inp.u8() as usize % state.len();
                        state[at] ^= 1 << (inp.u8() % 8);
                        state
                    } else {
                        input.clone()
                    };
                    let (enc, auth) =
                        (if inp.u8() % 2 == 0 { key } else { 0 }, if inp.u8() % 2 == 0 { key2 } else { 0 });
                    F.C_SetOperationState.unwrap()(s, blob.as_mut_ptr(), blob.len() as CK_ULONG, enc, auth);
                    if sign {
                        F.C_SignFinal.unwrap()(s, o, ol);
                    } else {
                        F.C_DigestFinal.unwrap()(s, o, ol);
                    }
                }
            }
            15 => {
                // Multi-part encryption or decryption: updates of fuzzed sizes, each with a
                // fuzzed output length (a size query now and then), then the final part. No
                // call may write past the length it was given: the bytes after it keep a mark.
                let encrypt = inp.u8() % 2 == 0;
                let init = if encrypt { F.C_EncryptInit } else { F.C_DecryptInit };
                if init.unwrap()(s, &mut m, key) == CKR_OK {
                    let (update, fin) = if encrypt {
                        (F.C_EncryptUpdate.unwrap(), F.C_EncryptFinal.unwrap())
                    } else {
                        (F.C_DecryptUpdate.unwrap(), F.C_DecryptFinal.unwrap())
                    };
                    let mut at = 0usize;
                    for step in 0..4 {
                        let last = step == 3 || at >= input.len();
                        let take = if last { 0 } else { (inp.u8() as usize).min(input.len() - at) };
                        let room = (inp.u8() as usize * 2).min(out.len() - 64);
                        out.fill(0xa5);
                        let mut n = room as CK_ULONG;
                        let target = if inp.u8() % 8 == 0 { std::ptr::null_mut() } else { out.as_mut_ptr() };
                        let rv = if last {
                            fin(s, target, &mut n)
                        } else {
                            update(s, ip.add(at), take as CK_ULONG, target, &mut n)
                        };
                        assert!(out[room..].iter().all(|&b| b == 0xa5), "a call wrote past the {room} bytes it had");
                        if rv != CKR_OK || last {
                            break;
                        }
                        at += take;
                    }
                }
            }
            _ => {
                let mut t = Template::build(&mut inp, 1);
                let tp = if t.attrs.is_empty() { std::ptr::null_mut() } else { t.attrs.as_mut_ptr() };
                let mut h = 0;
                F.C_UnwrapKey.unwrap()(s, &mut m, key, ip, i, tp, t.attrs.len() as CK_ULONG, &mut h);
            }
        }
        assert!(out_len as usize <= out.len() || out_len == CK_UNAVAILABLE_INFORMATION || op == 3 || op == 10);
        // Nothing was written past the output length the calls were given (the buffer
        // started as zeros).
        assert!(op == 15 || out[given.min(out.len())..].iter().all(|&b| b == 0), "op {op} wrote past {given} bytes");
        // Closing the session ends any operation and destroys the session objects made in it.
        assert_eq!(F.C_CloseSession.unwrap()(s), CKR_OK);
    }
});
