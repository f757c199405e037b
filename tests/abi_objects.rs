//! Object management through the built liboxihsm.so: data objects, certificates and secret
//! keys; C_GetAttributeValue in every case of §5.7.5; the sensitivity and extractability
//! rules; RO sessions; private objects before and after login; session objects; searches.

mod common;
use common::*;
use cryptoki::error::RvError;
use cryptoki::object::{Attribute, AttributeType, CertificateType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use cryptoki_sys::*;
use std::ptr::null_mut;

fn data(label: &str, value: &[u8], token: bool, private: bool) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::DATA),
        Attribute::Token(token),
        Attribute::Private(private),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Application(b"oxihsm-tests".to_vec()),
        Attribute::Value(value.to_vec()),
    ]
}

fn aes(label: &str, extra: &[Attribute]) -> Vec<Attribute> {
    let mut t = vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::Token(true),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Value(vec![0x42; 32]),
    ];
    t.extend_from_slice(extra);
    t
}

fn label_of(s: &Session, o: ObjectHandle) -> Vec<u8> {
    match &s.get_attributes(o, &[AttributeType::Label]).unwrap()[..] {
        [Attribute::Label(l)] => l.clone(),
        other => panic!("label: {other:?}"),
    }
}

fn bool_attr(s: &Session, o: ObjectHandle, t: AttributeType) -> bool {
    match &s.get_attributes(o, &[t]).unwrap()[..] {
        [
            Attribute::Sensitive(b)
            | Attribute::Extractable(b)
            | Attribute::AlwaysSensitive(b)
            | Attribute::NeverExtractable(b)
            | Attribute::Private(b)
            | Attribute::Token(b)
            | Attribute::Encrypt(b)
            | Attribute::Sign(b)
            | Attribute::Local(b)
            | Attribute::Modifiable(b)
            | Attribute::WrapWithTrusted(b),
        ] => *b,
        other => panic!("{t:?}: {other:?}"),
    }
}

/// One raw C_GetAttributeValue call: (rv, per-attribute lengths, per-attribute bytes).
fn raw_get(
    h: &Harness,
    s: &Session,
    o: ObjectHandle,
    reqs: &[(CK_ATTRIBUTE_TYPE, Option<usize>)],
) -> (CK_RV, Vec<CK_ULONG>, Vec<Vec<u8>>) {
    let raw = h.raw();
    let mut bufs: Vec<Vec<u8>> = reqs.iter().map(|(_, n)| vec![0u8; n.unwrap_or(0)]).collect();
    let mut t: Vec<CK_ATTRIBUTE> = reqs
        .iter()
        .zip(bufs.iter_mut())
        .map(|((ty, n), b)| CK_ATTRIBUTE {
            type_: *ty,
            pValue: if n.is_some() { b.as_mut_ptr().cast() } else { null_mut() },
            ulValueLen: b.len() as CK_ULONG,
        })
        .collect();
    // SAFETY: every pValue is NULL or a buffer of ulValueLen bytes.
    let r = unsafe { raw.C_GetAttributeValue(s.handle(), o.handle(), t.as_mut_ptr(), t.len() as CK_ULONG) };
    let lens: Vec<_> = t.iter().map(|a| a.ulValueLen).collect();
    for (b, n) in bufs.iter_mut().zip(&lens) {
        if *n != CK_UNAVAILABLE_INFORMATION && (*n as usize) <= b.len() {
            b.truncate(*n as usize);
        }
    }
    (r, lens, bufs)
}

#[test]
fn data_objects_create_read_find_copy_modify_destroy() {
    let h = Harness::new();
    let p = h.ctx();
    let slot = init_token(&p, "objects");
    let s = user_session(&p, slot);
    let o = s.create_object(&data("doc", b"payload", true, false)).unwrap();
    let got = s
        .get_attributes(
            o,
            &[AttributeType::Class, AttributeType::Value, AttributeType::Application, AttributeType::UniqueId],
        )
        .unwrap();
    assert_eq!(got[0], Attribute::Class(ObjectClass::DATA));
    assert_eq!(got[1], Attribute::Value(b"payload".to_vec()));
    assert_eq!(got[2], Attribute::Application(b"oxihsm-tests".to_vec()));
    let Attribute::UniqueId(uid) = &got[3] else { panic!() };
    assert_eq!(uid.len(), 32);
    assert_eq!(rv(s.update_attributes(o, &[Attribute::UniqueId(b"mine".to_vec())])), RvError::AttributeReadOnly);

    assert_eq!(s.find_objects(&[Attribute::Label(b"doc".to_vec())]).unwrap(), vec![o]);
    assert_eq!(s.find_objects(&[Attribute::Class(ObjectClass::DATA)]).unwrap(), vec![o]);
    assert_eq!(s.find_objects(&[Attribute::UniqueId(uid.clone())]).unwrap(), vec![o]);
    assert!(s.find_objects(&[Attribute::Label(b"nope".to_vec())]).unwrap().is_empty());
    assert!(
        s.find_objects(&[Attribute::Label(b"doc".to_vec()), Attribute::Class(ObjectClass::SECRET_KEY)])
            .unwrap()
            .is_empty()
    );

    s.update_attributes(o, &[Attribute::Label(b"renamed".to_vec()), Attribute::Value(b"v2".to_vec())]).unwrap();
    assert_eq!(label_of(&s, o), b"renamed");
    assert!(
        s.find_objects(&[Attribute::Label(b"doc".to_vec())]).unwrap().is_empty(),
        "the label index follows updates"
    );
    assert_eq!(s.find_objects(&[Attribute::Label(b"renamed".to_vec())]).unwrap(), vec![o]);

    let c = s.copy_object(o, &[Attribute::Label(b"copy".to_vec()), Attribute::Token(false)]).unwrap();
    assert_ne!(c, o);
    assert_eq!(label_of(&s, c), b"copy");
    assert!(!bool_attr(&s, c, AttributeType::Token));
    let Attribute::UniqueId(uid2) = &s.get_attributes(c, &[AttributeType::UniqueId]).unwrap()[0] else { panic!() };
    assert_ne!(uid2, uid, "a copy is a new object");
    assert_eq!(rv(s.copy_object(o, &[Attribute::Class(ObjectClass::SECRET_KEY)])), RvError::AttributeReadOnly);
    // What the data is (its application and object identifier) is fixed at creation; the
    // value is not.
    for fixed in [Attribute::Application(b"another".to_vec()), Attribute::ObjectId(vec![0x06, 0x01, 0x2a])] {
        assert_eq!(rv(s.update_attributes(o, std::slice::from_ref(&fixed))), RvError::AttributeReadOnly);
        assert_eq!(rv(s.copy_object(o, std::slice::from_ref(&fixed))), RvError::AttributeReadOnly);
    }
    // A copy may make a public object private, not a private one public.
    let public = s.copy_object(o, &[Attribute::Token(false)]).unwrap();
    let private = s.copy_object(public, &[Attribute::Private(true)]).unwrap();
    assert!(bool_attr(&s, private, AttributeType::Private));
    assert_eq!(rv(s.copy_object(private, &[Attribute::Private(false)])), RvError::AttributeReadOnly);
    // A read-only object (CKA_MODIFIABLE false) copies with new storage flags only: the copy
    // may go to the token or stay read-only, but may not be relabelled or made modifiable.
    let frozen =
        s.create_object(&[data("frozen", b"x", false, false), vec![Attribute::Modifiable(false)]].concat()).unwrap();
    let on_token = s.copy_object(frozen, &[Attribute::Token(true), Attribute::Modifiable(false)]).unwrap();
    assert!(bool_attr(&s, on_token, AttributeType::Token));
    assert!(!bool_attr(&s, on_token, AttributeType::Modifiable));
    assert_eq!(rv(s.copy_object(frozen, &[Attribute::Label(b"thawed".to_vec())])), RvError::AttributeReadOnly);
    assert_eq!(rv(s.copy_object(frozen, &[Attribute::Modifiable(true)])), RvError::AttributeReadOnly);
    let with_oid = [data("oid", b"x", false, false), vec![Attribute::ObjectId(vec![0x06, 0x01, 0x2a])]].concat();
    let d = s.create_object(&with_oid).unwrap();
    assert_eq!(s.get_attributes(d, &[AttributeType::ObjectId]).unwrap(), vec![Attribute::ObjectId(vec![6, 1, 0x2a])]);

    let raw = h.raw();
    let mut size: CK_ULONG = 0;
    let object_size = |size: *mut CK_ULONG| {
        // SAFETY: `size` is NULL (the case under test) or a live local.
        unsafe { raw.C_GetObjectSize(s.handle(), o.handle(), size) }
    };
    assert_eq!(object_size(&mut size), CKR_OK);
    assert!(size > 7);
    assert_eq!(object_size(null_mut()), CKR_ARGUMENTS_BAD);
    // A boolean whose length a failed C_GetAttributeValue left at CK_UNAVAILABLE_INFORMATION:
    // a bad value, and the object keeps its label.
    let mut yes: CK_BBOOL = CK_TRUE;
    let mut t =
        [CK_ATTRIBUTE { type_: CKA_MODIFIABLE, pValue: (&raw mut yes).cast(), ulValueLen: CK_UNAVAILABLE_INFORMATION }];
    // SAFETY: the template points at a live local; its length is the case under test and
    // must be refused before the value is read.
    let rv_set = unsafe { raw.C_SetAttributeValue(s.handle(), o.handle(), t.as_mut_ptr(), 1) };
    assert_eq!(rv_set, CKR_ATTRIBUTE_VALUE_INVALID);
    assert_eq!(label_of(&s, o), b"renamed");
    s.destroy_object(o).unwrap();
    assert_eq!(rv(s.get_attributes(o, &[AttributeType::Label])), RvError::ObjectHandleInvalid);
    assert_eq!(rv(s.destroy_object(o)), RvError::ObjectHandleInvalid);
    assert_eq!(object_size(&mut size), CKR_OBJECT_HANDLE_INVALID);
    s.destroy_object(c).unwrap();
}

#[test]
fn get_attribute_value_follows_every_rule_of_the_spec() {
    let h = Harness::new();
    let p = h.ctx();
    let slot = init_token(&p, "getattr");
    let s = user_session(&p, slot);
    let k = s.create_object(&aes("key", &[Attribute::Id(b"0123456789".to_vec())])).unwrap();

    // Size query for several attributes at once.
    let (r, lens, _) =
        raw_get(&h, &s, k, &[(CKA_LABEL, None), (CKA_ID, None), (CKA_KEY_TYPE, None), (CKA_SENSITIVE, None)]);
    assert_eq!(r, CKR_OK);
    assert_eq!(lens, vec![3, 10, size_of::<CK_ULONG>() as CK_ULONG, 1]);

    // Mixed results in one call: every attribute is processed.
    let (r, lens, bufs) = raw_get(
        &h,
        &s,
        k,
        &[
            (CKA_LABEL, Some(16)),
            (CKA_VALUE, Some(32)),
            (CKA_MODULUS, Some(8)),
            (CKA_ID, Some(4)),
            (CKA_KEY_TYPE, Some(8)),
        ],
    );
    assert!(
        [CKR_ATTRIBUTE_SENSITIVE, CKR_ATTRIBUTE_TYPE_INVALID, CKR_BUFFER_TOO_SMALL].contains(&r),
        "one of the errors, got 0x{r:x}"
    );
    assert_eq!(lens[0], 3);
    assert_eq!(bufs[0], b"key");
    assert_eq!(lens[1], CK_UNAVAILABLE_INFORMATION, "sensitive value");
    assert_eq!(bufs[1], vec![0u8; 32], "nothing of a sensitive value is written");
    assert_eq!(lens[2], CK_UNAVAILABLE_INFORMATION, "AES keys have no modulus");
    assert_eq!(lens[3], CK_UNAVAILABLE_INFORMATION, "4 bytes are too few for a 10-byte id");
    assert_eq!(lens[4], 8);
    assert_eq!(CK_ULONG::from_ne_bytes(bufs[4][..8].try_into().unwrap()), CKK_AES);

    // Each error alone gives its own code.
    assert_eq!(raw_get(&h, &s, k, &[(CKA_VALUE, None)]).0, CKR_ATTRIBUTE_SENSITIVE);
    assert_eq!(raw_get(&h, &s, k, &[(CKA_MODULUS, None)]).0, CKR_ATTRIBUTE_TYPE_INVALID);
    assert_eq!(raw_get(&h, &s, k, &[(0x7fff_0001, None)]).0, CKR_ATTRIBUTE_TYPE_INVALID);
    assert_eq!(raw_get(&h, &s, k, &[(CKA_ID, Some(9))]).0, CKR_BUFFER_TOO_SMALL);
    let (r, lens, bufs) = raw_get(&h, &s, k, &[(CKA_ID, Some(10))]);
    assert_eq!((r, lens[0], &bufs[0][..]), (CKR_OK, 10, &b"0123456789"[..]));

    let raw = h.raw();
    // SAFETY: raw PKCS#11 calls with pointers to live local buffers of the lengths passed.
    unsafe {
        assert_eq!(raw.C_GetAttributeValue(s.handle(), k.handle(), null_mut(), 1), CKR_ARGUMENTS_BAD);
        assert_eq!(raw.C_GetAttributeValue(s.handle(), k.handle(), null_mut(), 0), CKR_OK);
        let mut a = CK_ATTRIBUTE { type_: CKA_LABEL, pValue: null_mut(), ulValueLen: 0 };
        assert_eq!(raw.C_GetAttributeValue(s.handle(), 0x4242, &mut a, 1), CKR_OBJECT_HANDLE_INVALID);
        assert_eq!(raw.C_GetAttributeValue(0x4242, k.handle(), &mut a, 1), CKR_SESSION_HANDLE_INVALID);
    }
}

#[test]
fn secret_keys_are_sensitive_and_one_way() {
    let h = Harness::new();
    let p = h.ctx();
    let slot = init_token(&p, "keys");
    let s = user_session(&p, slot);
    let k = s.create_object(&aes("default", &[])).unwrap();
    assert!(bool_attr(&s, k, AttributeType::Sensitive), "secret keys are sensitive by default");
    assert!(!bool_attr(&s, k, AttributeType::Extractable), "and not extractable");
    assert!(bool_attr(&s, k, AttributeType::Private));
    assert!(!bool_attr(&s, k, AttributeType::AlwaysSensitive), "imported material was outside the token");
    assert!(!bool_attr(&s, k, AttributeType::NeverExtractable));
    assert!(!bool_attr(&s, k, AttributeType::Local));
    assert!(
        bool_attr(&s, k, AttributeType::Encrypt) && bool_attr(&s, k, AttributeType::Sign),
        "usage defaults to TRUE"
    );
    assert_eq!(s.get_attributes(k, &[AttributeType::ValueLen]).unwrap(), vec![Attribute::ValueLen(32.into())]);
    assert!(
        s.find_objects(&[Attribute::Value(vec![0x42; 32])]).unwrap().is_empty(),
        "sensitive values cannot be searched for"
    );

    let open = s.create_object(&aes("open", &[Attribute::Sensitive(false), Attribute::Extractable(true)])).unwrap();
    assert_eq!(s.get_attributes(open, &[AttributeType::Value]).unwrap(), vec![Attribute::Value(vec![0x42; 32])]);
    s.update_attributes(open, &[Attribute::Sensitive(true)]).unwrap();
    assert_eq!(raw_get(&h, &s, open, &[(CKA_VALUE, None)]).0, CKR_ATTRIBUTE_SENSITIVE);
    assert_eq!(rv(s.update_attributes(open, &[Attribute::Sensitive(false)])), RvError::AttributeReadOnly);
    assert!(!bool_attr(&s, open, AttributeType::AlwaysSensitive));
    s.update_attributes(open, &[Attribute::Extractable(false)]).unwrap();
    assert_eq!(rv(s.update_attributes(open, &[Attribute::Extractable(true)])), RvError::AttributeReadOnly);
    assert_eq!(rv(s.copy_object(open, &[Attribute::Extractable(true)])), RvError::AttributeReadOnly);
    // CKA_WRAP_WITH_TRUSTED may become TRUE after creation, and never FALSE again.
    assert!(!bool_attr(&s, open, AttributeType::WrapWithTrusted));
    s.update_attributes(open, &[Attribute::WrapWithTrusted(true)]).unwrap();
    assert!(bool_attr(&s, open, AttributeType::WrapWithTrusted));
    assert_eq!(rv(s.update_attributes(open, &[Attribute::WrapWithTrusted(false)])), RvError::AttributeReadOnly);
    assert_eq!(rv(s.copy_object(open, &[Attribute::WrapWithTrusted(false)])), RvError::AttributeReadOnly);

    // Template errors.
    let e = |t: Vec<Attribute>| rv(s.create_object(&t));
    assert_eq!(e(aes("x", &[Attribute::ValueLen(32.into())])), RvError::AttributeReadOnly);
    assert_eq!(e(aes("x", &[Attribute::AlwaysSensitive(true)])), RvError::AttributeReadOnly);
    assert_eq!(e(aes("x", &[Attribute::Local(true)])), RvError::AttributeReadOnly);
    assert_eq!(e(aes("x", &[Attribute::Trusted(true)])), RvError::AttributeReadOnly, "only the SO may trust");
    assert_eq!(e(aes("x", &[Attribute::Modulus(vec![1])])), RvError::AttributeTypeInvalid);
    assert_eq!(e(aes("x", &[Attribute::Sensitive(true), Attribute::Sensitive(false)])), RvError::TemplateInconsistent);
    let mut short = aes("x", &[]);
    short[4] = Attribute::Value(vec![1; 15]);
    assert_eq!(e(short), RvError::AttributeValueInvalid);
    assert_eq!(e(aes("x", &[])[1..].to_vec()), RvError::TemplateIncomplete, "no class");
    let mut no_value = aes("x", &[]);
    no_value.remove(4);
    assert_eq!(e(no_value), RvError::TemplateIncomplete);
    // A secret key type the token does not have (RC4, Blowfish, a vendor's).
    for kt in [KeyType::RC4, KeyType::BLOWFISH, KeyType::try_from(CKK_VENDOR_DEFINED | 7).unwrap()] {
        let mut other = aes("x", &[]);
        other[1] = Attribute::KeyType(kt);
        assert_eq!(e(other), RvError::AttributeValueInvalid, "{kt:?}");
    }
    assert_eq!(
        e(vec![
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::GENERIC_SECRET),
            Attribute::Value(vec![])
        ]),
        RvError::AttributeValueInvalid
    );
    let g = s
        .create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::GENERIC_SECRET),
            Attribute::Value(vec![9; 20]),
        ])
        .unwrap();
    assert_eq!(s.get_attributes(g, &[AttributeType::ValueLen]).unwrap(), vec![Attribute::ValueLen(20.into())]);

    // Object-level flags.
    let fixed = s
        .create_object(&aes(
            "fixed",
            &[Attribute::Modifiable(false), Attribute::Copyable(false), Attribute::Destroyable(false)],
        ))
        .unwrap();
    assert_eq!(rv(s.update_attributes(fixed, &[Attribute::Label(b"y".to_vec())])), RvError::ActionProhibited);
    assert_eq!(rv(s.copy_object(fixed, &[])), RvError::ActionProhibited);
    assert_eq!(rv(s.destroy_object(fixed)), RvError::ActionProhibited);
    assert_eq!(rv(s.update_attributes(k, &[Attribute::KeyType(KeyType::GENERIC_SECRET)])), RvError::AttributeReadOnly);
    assert_eq!(rv(s.update_attributes(k, &[Attribute::Private(false)])), RvError::AttributeReadOnly);
    // CKA_COPYABLE "can't be set to TRUE once it is set to FALSE": turned off, the key is
    // copied no more, and it stays off.
    let once = s.create_object(&aes("once", &[])).unwrap();
    s.copy_object(once, &[]).unwrap();
    s.update_attributes(once, &[Attribute::Copyable(false)]).unwrap();
    assert_eq!(s.get_attributes(once, &[AttributeType::Copyable]).unwrap(), vec![Attribute::Copyable(false)]);
    assert_eq!(rv(s.copy_object(once, &[])), RvError::ActionProhibited);
    assert_eq!(rv(s.update_attributes(once, &[Attribute::Copyable(true)])), RvError::AttributeReadOnly);

    // Raw decoding errors: wrong sizes for typed attributes.
    let raw = h.raw();
    // SAFETY: raw PKCS#11 calls with pointers to live local buffers of the lengths passed.
    unsafe {
        let mut class = CKO_DATA;
        let mut two = [1u8, 1];
        let mut t = [
            CK_ATTRIBUTE {
                type_: CKA_CLASS,
                pValue: (&raw mut class).cast(),
                ulValueLen: size_of::<CK_ULONG>() as CK_ULONG,
            },
            CK_ATTRIBUTE { type_: CKA_TOKEN, pValue: two.as_mut_ptr().cast(), ulValueLen: 2 },
        ];
        let mut o: CK_OBJECT_HANDLE = 0;
        assert_eq!(raw.C_CreateObject(s.handle(), t.as_mut_ptr(), 2, &mut o), CKR_ATTRIBUTE_VALUE_INVALID);
        t[0].ulValueLen = 4;
        assert_eq!(raw.C_CreateObject(s.handle(), t.as_mut_ptr(), 1, &mut o), CKR_ATTRIBUTE_VALUE_INVALID);
        t[0].ulValueLen = size_of::<CK_ULONG>() as CK_ULONG;
        // A length left at CK_UNAVAILABLE_INFORMATION by a failed C_GetAttributeValue is a
        // bad value, refused before a byte is read (google/pkcs11test asks this of
        // C_SetAttributeValue).
        t[1].ulValueLen = CK_UNAVAILABLE_INFORMATION;
        assert_eq!(raw.C_CreateObject(s.handle(), t.as_mut_ptr(), 2, &mut o), CKR_ATTRIBUTE_VALUE_INVALID);
        t[1].ulValueLen = 2;
        assert_eq!(raw.C_CreateObject(s.handle(), t.as_mut_ptr(), 1, null_mut()), CKR_ARGUMENTS_BAD);
        assert_eq!(raw.C_CreateObject(s.handle(), null_mut(), 1, &mut o), CKR_ARGUMENTS_BAD);
        t[1].pValue = null_mut();
        assert_eq!(raw.C_CreateObject(s.handle(), t.as_mut_ptr(), 2, &mut o), CKR_ARGUMENTS_BAD);
        let mut unknown = [CK_ATTRIBUTE { type_: 0x7fff_0002, pValue: null_mut(), ulValueLen: 0 }];
        assert_eq!(raw.C_CreateObject(s.handle(), unknown.as_mut_ptr(), 1, &mut o), CKR_ATTRIBUTE_TYPE_INVALID);
    }
}

#[test]
fn extractable_keys_can_be_forbidden_by_configuration() {
    let h = Harness::with_config("allow_extractable = false");
    let p = h.ctx();
    let slot = init_token(&p, "strict");
    let s = user_session(&p, slot);
    assert_eq!(rv(s.create_object(&aes("x", &[Attribute::Extractable(true)]))), RvError::AttributeValueInvalid);
    s.create_object(&aes("y", &[])).unwrap();
}

#[test]
fn so_may_trust_and_templates_round_trip() {
    let h = Harness::new();
    let p = h.ctx();
    let slot = init_token(&p, "trust");
    let so = p.open_rw_session(slot).unwrap();
    so.login(UserType::So, Some(&AuthPin::new(SO_PIN.into()))).unwrap();
    // The SO can create public objects only, and may set CKA_TRUSTED.
    assert_eq!(rv(so.create_object(&aes("private", &[]))), RvError::UserNotLoggedIn);
    let k = so.create_object(&aes("wrapper", &[Attribute::Private(false), Attribute::Trusted(true)])).unwrap();
    so.logout().unwrap();
    let s = user_session(&p, slot);
    let got = s.get_attributes(k, &[AttributeType::Trusted]).unwrap();
    assert_eq!(got, vec![Attribute::Trusted(true)]);
    assert_eq!(
        rv(s.update_attributes(k, &[Attribute::Trusted(true)])),
        RvError::AttributeReadOnly,
        "only the SO may trust"
    );
    s.update_attributes(k, &[Attribute::Label(b"z".to_vec())]).unwrap();
    // A public key's CKA_TRUSTED too: the user may not set it, the SO may, after creation.
    let (public, _) = s
        .generate_key_pair(
            &cryptoki::mechanism::Mechanism::EccKeyPairGen,
            &[Attribute::Token(true), Attribute::EcParams(common::asymmetric::P256.to_vec())],
            &[Attribute::Token(true)],
        )
        .unwrap();
    assert_eq!(rv(s.update_attributes(public, &[Attribute::Trusted(true)])), RvError::AttributeReadOnly);
    s.logout().unwrap();
    so.login(UserType::So, Some(&AuthPin::new(SO_PIN.into()))).unwrap();
    so.update_attributes(public, &[Attribute::Trusted(true)]).unwrap();
    so.logout().unwrap();
    s.login(UserType::User, Some(&AuthPin::new(USER_PIN.into()))).unwrap();
    assert_eq!(s.get_attributes(public, &[AttributeType::Trusted]).unwrap(), vec![Attribute::Trusted(true)]);

    // CKA_WRAP_TEMPLATE: an attribute array, read back with the nested rules.
    let raw = h.raw();
    // SAFETY: raw PKCS#11 calls with pointers to live local buffers of the lengths passed.
    unsafe {
        let mut f = 0u8;
        let mut class = CKO_SECRET_KEY;
        let mut kt = CKK_AES;
        let mut val = [5u8; 16];
        let mut inner = [CK_ATTRIBUTE { type_: CKA_EXTRACTABLE, pValue: (&raw mut f).cast(), ulValueLen: 1 }];
        let mut t = [
            CK_ATTRIBUTE { type_: CKA_CLASS, pValue: (&raw mut class).cast(), ulValueLen: 8 },
            CK_ATTRIBUTE { type_: CKA_KEY_TYPE, pValue: (&raw mut kt).cast(), ulValueLen: 8 },
            CK_ATTRIBUTE { type_: CKA_VALUE, pValue: val.as_mut_ptr().cast(), ulValueLen: 16 },
            CK_ATTRIBUTE {
                type_: CKA_WRAP_TEMPLATE,
                pValue: inner.as_mut_ptr().cast(),
                ulValueLen: size_of::<CK_ATTRIBUTE>() as CK_ULONG,
            },
        ];
        let mut o: CK_OBJECT_HANDLE = 0;
        assert_eq!(raw.C_CreateObject(s.handle(), t.as_mut_ptr(), 4, &mut o), CKR_OK);
        let mut q = CK_ATTRIBUTE { type_: CKA_WRAP_TEMPLATE, pValue: null_mut(), ulValueLen: 0 };
        assert_eq!(raw.C_GetAttributeValue(s.handle(), o, &mut q, 1), CKR_OK);
        assert_eq!(q.ulValueLen as usize, size_of::<CK_ATTRIBUTE>());
        let mut out_bool = 7u8;
        let mut back = [CK_ATTRIBUTE { type_: 0, pValue: (&raw mut out_bool).cast(), ulValueLen: 1 }];
        q.pValue = back.as_mut_ptr().cast();
        assert_eq!(raw.C_GetAttributeValue(s.handle(), o, &mut q, 1), CKR_OK);
        assert_eq!((back[0].type_, back[0].ulValueLen, out_bool), (CKA_EXTRACTABLE, 1, 0));
        // Templates may not nest.
        let mut nested = [CK_ATTRIBUTE {
            type_: CKA_WRAP_TEMPLATE,
            pValue: inner.as_mut_ptr().cast(),
            ulValueLen: size_of::<CK_ATTRIBUTE>() as CK_ULONG,
        }];
        t[3].pValue = nested.as_mut_ptr().cast();
        assert_eq!(raw.C_CreateObject(s.handle(), t.as_mut_ptr(), 4, &mut o), CKR_ATTRIBUTE_VALUE_INVALID);
    }
}

#[test]
fn read_only_sessions_private_objects_and_session_objects() {
    let h = Harness::new();
    let p = h.ctx();
    let slot = init_token(&p, "visibility");
    let ro = p.open_ro_session(slot).unwrap();
    assert_eq!(rv(ro.create_object(&data("t", b"x", true, false))), RvError::SessionReadOnly);
    let sess_obj = ro.create_object(&data("session-public", b"x", false, false)).unwrap();
    assert_eq!(rv(ro.create_object(&data("p", b"x", false, true))), RvError::UserNotLoggedIn);

    let rw = p.open_rw_session(slot).unwrap();
    let public = rw.create_object(&data("public", b"pub", true, false)).unwrap();
    assert_eq!(rv(rw.create_object(&data("secret", b"x", true, true))), RvError::UserNotLoggedIn);
    rw.login(UserType::User, Some(&AuthPin::new(USER_PIN.into()))).unwrap();
    let private = rw.create_object(&data("secret", b"private value", true, true)).unwrap();
    let private_session = rw.create_object(&data("secret-session", b"x", false, true)).unwrap();
    assert_eq!(rv(ro.destroy_object(public)), RvError::SessionReadOnly);
    assert_eq!(rv(ro.update_attributes(public, &[Attribute::Label(b"n".to_vec())])), RvError::SessionReadOnly);
    ro.update_attributes(sess_obj, &[Attribute::Label(b"renamed".to_vec())]).unwrap();

    let mut all = ro.find_objects(&[]).unwrap();
    all.sort_by_key(|o| o.handle());
    let mut want = vec![sess_obj, public, private, private_session];
    want.sort_by_key(|o| o.handle());
    assert_eq!(all, want, "logged in: every object of this token");
    // Found by the indexed attributes too (the store keys a private object's index entries
    // with the token's key, so only a user login can look them up).
    assert_eq!(ro.find_objects(&[Attribute::Label(b"secret".to_vec())]).unwrap(), vec![private]);
    let Attribute::UniqueId(uid) = &ro.get_attributes(private, &[AttributeType::UniqueId]).unwrap()[0] else {
        panic!()
    };
    assert_eq!(ro.find_objects(&[Attribute::UniqueId(uid.clone())]).unwrap(), vec![private]);

    rw.logout().unwrap();
    let mut visible = ro.find_objects(&[]).unwrap();
    visible.sort_by_key(|o| o.handle());
    let mut want = vec![sess_obj, public];
    want.sort_by_key(|o| o.handle());
    assert_eq!(visible, want, "logged out: public objects only");
    assert_eq!(rv(ro.get_attributes(private, &[AttributeType::Label])), RvError::ObjectHandleInvalid);
    assert_eq!(rv(ro.get_attributes(private_session, &[AttributeType::Label])), RvError::ObjectHandleInvalid);
    assert!(ro.find_objects(&[Attribute::Label(b"secret".to_vec())]).unwrap().is_empty());

    // Session objects go with the session that made them.
    drop(ro);
    let again = p.open_ro_session(slot).unwrap();
    assert_eq!(rv(again.get_attributes(sess_obj, &[AttributeType::Label])), RvError::ObjectHandleInvalid);
    assert_eq!(again.find_objects(&[]).unwrap(), vec![public]);
    // ... and only with it: another session's closing (one that made no objects) leaves
    // them, and the login stays while any session is open.
    rw.login(UserType::User, Some(&AuthPin::new(USER_PIN.into()))).unwrap();
    let kept = rw.create_object(&data("kept", b"x", false, false)).unwrap();
    let bystander = p.open_ro_session(slot).unwrap();
    drop(again);
    drop(bystander);
    assert_eq!(label_of(&rw, kept), b"kept");
    // The private session object went with the logout (§5.6.4), not with a session.
    assert!(rw.find_objects(&[Attribute::Label(b"secret-session".to_vec())]).unwrap().is_empty());
    assert_eq!(rv(rw.get_attributes(private_session, &[AttributeType::Label])), RvError::ObjectHandleInvalid);
    let last = p.open_ro_session(slot).unwrap();
    drop(rw);
    assert_eq!(rv(last.get_attributes(kept, &[AttributeType::Label])), RvError::ObjectHandleInvalid);
    assert_eq!(last.get_session_info().unwrap().session_state(), cryptoki::session::SessionState::RoUser);
    drop(last);
    let fresh = p.open_ro_session(slot).unwrap();
    assert_eq!(fresh.get_session_info().unwrap().session_state(), cryptoki::session::SessionState::RoPublic);
    // Nor does the SO see the private object, by any attribute.
    drop(fresh);
    let so = p.open_rw_session(slot).unwrap();
    so.login(UserType::So, Some(&AuthPin::new(SO_PIN.into()))).unwrap();
    assert!(so.find_objects(&[Attribute::Label(b"secret".to_vec())]).unwrap().is_empty());
    assert!(so.find_objects(&[Attribute::UniqueId(uid.clone())]).unwrap().is_empty());
    assert_eq!(so.find_objects(&[Attribute::Label(b"public".to_vec())]).unwrap(), vec![public]);
}

#[test]
fn certificates() {
    let h = Harness::new();
    let p = h.ctx();
    let slot = init_token(&p, "certs");
    let s = user_session(&p, slot);
    let base = vec![
        Attribute::Class(ObjectClass::CERTIFICATE),
        Attribute::CertificateType(CertificateType::X_509),
        Attribute::Token(true),
        Attribute::Label(b"cert".to_vec()),
        Attribute::Id(vec![1, 2]),
        Attribute::Subject(b"subject-der".to_vec()),
        Attribute::Value(b"certificate-der".to_vec()),
    ];
    let c = s.create_object(&base).unwrap();
    assert!(!bool_attr(&s, c, AttributeType::Private), "certificates are public by default");
    assert_eq!(
        s.find_objects(&[Attribute::Id(vec![1, 2]), Attribute::Class(ObjectClass::CERTIFICATE)]).unwrap(),
        vec![c]
    );
    let got = s.get_attributes(c, &[AttributeType::Value, AttributeType::Trusted]).unwrap();
    assert_eq!(got, vec![Attribute::Value(b"certificate-der".to_vec()), Attribute::Trusted(false)]);
    assert_eq!(rv(s.create_object(&base[..5])), RvError::TemplateIncomplete, "subject and value are required");
    assert_eq!(rv(s.create_object(&base[..1])), RvError::TemplateIncomplete, "certificate type is required");
    assert_eq!(rv(s.update_attributes(c, &[Attribute::Subject(b"other".to_vec())])), RvError::AttributeReadOnly);
    // CKA_CERTIFICATE_CATEGORY: 0 (unspecified) to 3 (other entity), nothing else.
    let raw = RawSession::new(&h, &s);
    let category = |c: CK_ULONG| {
        let mut t = T::default()
            .ulong(CKA_CLASS, CKO_CERTIFICATE)
            .ulong(CKA_CERTIFICATE_TYPE, CKC_X_509)
            .bytes(CKA_SUBJECT, b"subject-der")
            .bytes(CKA_VALUE, b"certificate-der")
            .ulong(CKA_CERTIFICATE_CATEGORY, c);
        raw.create(&mut t)
    };
    for c in 0..=3 {
        let o = category(c).unwrap();
        assert_eq!(raw.get_ulong(o, CKA_CERTIFICATE_CATEGORY), Ok(c));
    }
    assert_eq!(category(4), Err(CKR_ATTRIBUTE_VALUE_INVALID));
    let unsupported =
        vec![Attribute::Class(ObjectClass::CERTIFICATE), Attribute::CertificateType(CertificateType::X_509_ATTR)];
    assert_eq!(rv(s.create_object(&unsupported)), RvError::AttributeValueInvalid);
}

#[test]
fn find_operation_rules() {
    let h = Harness::new();
    let p = h.ctx();
    let slot = init_token(&p, "find");
    let s = user_session(&p, slot);
    let mut made = Vec::new();
    for i in 0..5 {
        made.push(s.create_object(&data(&format!("d{i}"), b"v", true, i % 2 == 0)).unwrap().handle());
    }
    let raw = h.raw();
    // SAFETY: raw PKCS#11 calls with pointers to live local buffers of the lengths passed.
    unsafe {
        let hs = s.handle();
        let mut out = [0 as CK_OBJECT_HANDLE; 8];
        let mut n: CK_ULONG = 0;
        assert_eq!(raw.C_FindObjects(hs, out.as_mut_ptr(), 8, &mut n), CKR_OPERATION_NOT_INITIALIZED);
        assert_eq!(raw.C_FindObjectsFinal(hs), CKR_OPERATION_NOT_INITIALIZED);
        assert_eq!(raw.C_FindObjectsInit(hs, null_mut(), 1), CKR_ARGUMENTS_BAD);
        assert_eq!(raw.C_FindObjectsInit(hs, null_mut(), 0), CKR_OK);
        assert_eq!(raw.C_FindObjectsInit(hs, null_mut(), 0), CKR_OPERATION_ACTIVE);
        assert_eq!(raw.C_FindObjects(hs, out.as_mut_ptr(), 8, null_mut()), CKR_ARGUMENTS_BAD);
        assert_eq!(raw.C_FindObjects(hs, null_mut(), 8, &mut n), CKR_ARGUMENTS_BAD);
        let mut got = Vec::new();
        loop {
            assert_eq!(raw.C_FindObjects(hs, out.as_mut_ptr(), 2, &mut n), CKR_OK);
            if n == 0 {
                break;
            }
            assert!(n <= 2);
            got.extend_from_slice(&out[..n as usize]);
        }
        assert_eq!(got, made, "every object once, in creation order");
        assert_eq!(raw.C_FindObjectsFinal(hs), CKR_OK);
        // C_SessionCancel ends a search.
        assert_eq!(raw.C_FindObjectsInit(hs, null_mut(), 0), CKR_OK);
        assert_eq!(raw.C_SessionCancel(hs, CKF_FIND_OBJECTS), CKR_OK);
        assert_eq!(raw.C_FindObjects(hs, out.as_mut_ptr(), 8, &mut n), CKR_OPERATION_NOT_INITIALIZED);
        // An attribute type oxihsm does not know.
        let mut unknown = [CK_ATTRIBUTE { type_: 0x7fff_0003, pValue: null_mut(), ulValueLen: 0 }];
        assert_eq!(raw.C_FindObjectsInit(hs, unknown.as_mut_ptr(), 1), CKR_ATTRIBUTE_TYPE_INVALID);
        // One the specification defines but no object here has (a hardware feature's type):
        // the search succeeds and finds nothing, beside a class that alone would find all.
        let mut feature: CK_ULONG = CKH_USER_INTERFACE;
        let mut any_class: CK_ULONG = CKO_DATA;
        let mut hw = [
            CK_ATTRIBUTE {
                type_: CKA_CLASS,
                pValue: (&raw mut any_class).cast(),
                ulValueLen: size_of::<CK_ULONG>() as _,
            },
            CK_ATTRIBUTE {
                type_: CKA_HW_FEATURE_TYPE,
                pValue: (&raw mut feature).cast(),
                ulValueLen: size_of::<CK_ULONG>() as _,
            },
        ];
        for count in [2, 1] {
            assert_eq!(raw.C_FindObjectsInit(hs, hw.as_mut_ptr(), count), CKR_OK);
            assert_eq!(raw.C_FindObjects(hs, out.as_mut_ptr(), 8, &mut n), CKR_OK);
            assert_eq!(n, if count == 2 { 0 } else { made.len() as CK_ULONG }, "template of {count}");
            assert_eq!(raw.C_FindObjectsFinal(hs), CKR_OK);
        }
        assert_eq!(raw.C_FindObjectsInit(0x999, null_mut(), 0), CKR_SESSION_HANDLE_INVALID);
    }
}

/// Session objects made, destroyed and dropped with their sessions on several threads at
/// once: handles stay unique, searches see exactly the live objects, and closing a session
/// while another thread adds objects to it leaves none of them behind.
#[test]
fn session_objects_across_threads() {
    use std::collections::HashSet;
    const THREADS: usize = 4;
    const EACH: usize = 60;
    let h = Harness::new();
    let p = h.ctx();
    let slot = init_token(&p, "objects-threads");
    let anchor = user_session(&p, slot);
    let handles = |s: &Session, label: Option<&[u8]>| -> HashSet<u64> {
        let mut t = vec![Attribute::Class(ObjectClass::DATA)];
        t.extend(label.map(|l| Attribute::Label(l.to_vec())));
        s.find_objects(&t).unwrap().iter().map(|o| o.handle()).collect()
    };
    let mut kept: Vec<(Session, Vec<ObjectHandle>)> = std::thread::scope(|sc| {
        let p = &p;
        (0..THREADS)
            .map(|t| {
                sc.spawn(move || {
                    let s = p.open_ro_session(slot).unwrap();
                    let made: Vec<_> = (0..EACH)
                        .map(|i| s.create_object(&data(&format!("t{t}-{i}"), b"v", false, false)).unwrap())
                        .collect();
                    let mut kept = Vec::new();
                    for (i, o) in made.into_iter().enumerate() {
                        if i % 2 == 0 { s.destroy_object(o).unwrap() } else { kept.push(o) }
                    }
                    (s, kept)
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|j| j.join().unwrap())
            .collect()
    });
    let live: HashSet<u64> = kept.iter().flat_map(|(_, k)| k.iter().map(|o| o.handle())).collect();
    assert_eq!(live.len(), THREADS * EACH / 2, "handles repeated");
    assert_eq!(handles(&anchor, None), live);
    for (t, (_, k)) in kept.iter().enumerate() {
        for (j, o) in k.iter().enumerate() {
            assert_eq!(label_of(&anchor, *o), format!("t{t}-{}", 2 * j + 1).into_bytes());
        }
    }
    // Closing one session drops exactly its objects.
    let (s0, k0) = kept.remove(0);
    drop(s0);
    let gone: HashSet<u64> = k0.iter().map(|o| o.handle()).collect();
    assert_eq!(handles(&anchor, None), &live - &gone);
    assert_eq!(rv(anchor.get_attributes(k0[0], &[AttributeType::Label])), RvError::ObjectHandleInvalid);

    // A session closed while another thread adds objects to it.
    let raw = h.raw();
    for round in 0..40 {
        let mut sh = 0;
        // SAFETY: a live module instance; `sh` receives the handle.
        let r = unsafe { raw.C_OpenSession(slot.id(), CKF_SERIAL_SESSION, null_mut(), None, &mut sh) };
        assert_eq!(r, CKR_OK);
        let made = std::thread::scope(|sc| {
            let adder = sc.spawn(|| {
                let rs = RawSession { lib: h.raw(), h: sh };
                let mut made = 0;
                loop {
                    match rs.create(&mut T::default().ulong(CKA_CLASS, CKO_DATA).bytes(CKA_LABEL, b"race")) {
                        Ok(_) => made += 1,
                        Err(rv) => {
                            assert_eq!(rv, CKR_SESSION_HANDLE_INVALID, "round {round}");
                            return made;
                        }
                    }
                }
            });
            std::thread::sleep(std::time::Duration::from_micros(100 * (round % 8)));
            // SAFETY: a handle this test opened, closed once.
            assert_eq!(unsafe { raw.C_CloseSession(sh) }, CKR_OK);
            adder.join().unwrap()
        });
        let left = handles(&anchor, Some(b"race"));
        assert!(left.is_empty(), "round {round}: {} of {made} objects outlived their session", left.len());
    }
    assert_eq!(handles(&anchor, None), &live - &gone);
}

/// A private session key is usable in every session of the token exactly while the normal
/// user is logged in: sessions opened before the login, by it, after it, and while logged
/// out all follow the login and logout made in any one of them.
#[test]
fn private_session_keys_live_until_the_logout() {
    use cryptoki::mechanism::Mechanism;
    let h = Harness::new();
    let p = h.ctx();
    let slot = init_token(&p, "key-login");
    let before = p.open_ro_session(slot).unwrap();
    let rw = user_session(&p, slot);
    let after = p.open_ro_session(slot).unwrap();
    let gen_key = |token: bool| {
        rw.generate_key(
            &Mechanism::AesKeyGen,
            &[Attribute::Token(token), Attribute::ValueLen(32.into()), Attribute::Encrypt(true)],
        )
        .unwrap()
    };
    let key = gen_key(false);
    assert!(bool_attr(&rw, key, AttributeType::Private), "keys are private by default");
    let public = rw.create_object(&data("public", b"v", false, false)).unwrap();
    let use_key = |s: &Session, key| s.encrypt(&Mechanism::AesEcb, key, &[7u8; 16]);
    let ct = use_key(&rw, key).unwrap();
    for s in [&before, &after] {
        assert_eq!(use_key(s, key).unwrap(), ct);
    }
    // §5.6.4: "all private session objects from sessions belonging to the application are
    // destroyed" by C_Logout; logging in again does not bring them back. Public session
    // objects stay.
    rw.logout().unwrap();
    for s in [&before, &rw, &after] {
        assert_eq!(rv(use_key(s, key)), RvError::KeyHandleInvalid);
    }
    after.login(UserType::User, Some(&AuthPin::new(USER_PIN.into()))).unwrap();
    for s in [&before, &rw, &after] {
        assert_eq!(rv(use_key(s, key)), RvError::KeyHandleInvalid);
    }
    let session_objects = rw.find_objects(&[Attribute::Token(false)]).unwrap();
    assert_eq!(session_objects, vec![public]);
    // A private token key outlives the logout, but the handles to it do not, "even if a user
    // is later logged back into the token": it is found again under a new handle. Public
    // objects keep theirs.
    let token_key = gen_key(true);
    let public_token = rw.create_object(&data("public-token", b"v", true, false)).unwrap();
    let ct = use_key(&rw, token_key).unwrap();
    let find_key =
        |s: &Session| s.find_objects(&[Attribute::Token(true), Attribute::Class(ObjectClass::SECRET_KEY)]).unwrap();
    assert_eq!(find_key(&rw), vec![token_key]);
    after.logout().unwrap();
    assert_eq!(rv(use_key(&rw, token_key)), RvError::KeyHandleInvalid);
    assert_eq!(label_of(&rw, public_token), b"public-token");
    before.login(UserType::User, Some(&AuthPin::new(USER_PIN.into()))).unwrap();
    assert_eq!(rv(use_key(&rw, token_key)), RvError::KeyHandleInvalid);
    assert_eq!(rv(rw.get_attributes(token_key, &[AttributeType::Label])), RvError::ObjectHandleInvalid);
    assert_eq!(rv(rw.destroy_object(token_key)), RvError::ObjectHandleInvalid);
    let again = find_key(&rw);
    assert_eq!(again.len(), 1);
    assert_ne!(again[0], token_key);
    assert_eq!(use_key(&rw, again[0]).unwrap(), ct);
    // The object is cached now, under the new login: the old handle still names nothing.
    assert_eq!(rv(use_key(&rw, token_key)), RvError::KeyHandleInvalid);
    assert_eq!(use_key(&rw, again[0]).unwrap(), ct);
    assert_eq!(label_of(&rw, public_token), b"public-token");
    // The SO's login makes no private object usable.
    before.logout().unwrap();
    drop((before, after));
    rw.login(UserType::So, Some(&AuthPin::new(SO_PIN.into()))).unwrap();
    assert_eq!(rv(use_key(&rw, again[0])), RvError::KeyHandleInvalid);
}

#[test]
fn check_values_of_secret_keys_and_certificates() {
    use aes::cipher::{BlockEncrypt, KeyInit};
    use sha1::{Digest, Sha1};
    let h = Harness::new();
    let p = h.ctx();
    let slot = init_token(&p, "kcv");
    let s = user_session(&p, slot);
    let raw = RawSession::new(&h, &s);
    // An AES key's checksum is its encryption of a zero block (RustCrypto's AES here), a
    // generic secret's and a certificate's the SHA-1 hash of their value: three bytes each.
    let aes_kcv = |key: &[u8]| {
        let mut block = aes::Block::default();
        match key.len() {
            16 => aes::Aes128::new_from_slice(key).unwrap().encrypt_block(&mut block),
            _ => aes::Aes256::new_from_slice(key).unwrap().encrypt_block(&mut block),
        }
        block[..3].to_vec()
    };
    let sha1_kcv = |v: &[u8]| Sha1::digest(v)[..3].to_vec();
    let aes128: Vec<u8> = (0u8..16).collect();
    let k = raw.create(&mut T::secret(CKK_AES).bytes(CKA_VALUE, &aes128)).unwrap();
    assert_eq!(raw.get_bytes(k, CKA_CHECK_VALUE).unwrap(), aes_kcv(&aes128));
    let generic = b"a generic secret of some length".to_vec();
    let g = raw.create(&mut T::secret(CKK_GENERIC_SECRET).bytes(CKA_VALUE, &generic)).unwrap();
    assert_eq!(raw.get_bytes(g, CKA_CHECK_VALUE).unwrap(), sha1_kcv(&generic));
    let hmac = raw.create(&mut T::secret(CKK_SHA256_HMAC).bytes(CKA_VALUE, &generic)).unwrap();
    assert_eq!(raw.get_bytes(hmac, CKA_CHECK_VALUE).unwrap(), sha1_kcv(&generic));

    // A generated key gets one too (read here through the non-sensitive copy of its value).
    let gk = raw
        .generate(
            CKM_AES_KEY_GEN,
            &mut T::default().ulong(CKA_VALUE_LEN, 32).flag(CKA_SENSITIVE, false).flag(CKA_EXTRACTABLE, true),
        )
        .unwrap();
    let value = raw.get_bytes(gk, CKA_VALUE).unwrap();
    assert_eq!(raw.get_bytes(gk, CKA_CHECK_VALUE).unwrap(), aes_kcv(&value));

    // A checksum in the template must be the key's; an empty one asks that none be shown.
    let kcv = aes_kcv(&aes128);
    let with = |v: &[u8]| raw.create(&mut T::secret(CKK_AES).bytes(CKA_VALUE, &aes128).bytes(CKA_CHECK_VALUE, v));
    let same = with(&kcv).unwrap();
    assert_eq!(raw.get_bytes(same, CKA_CHECK_VALUE).unwrap(), kcv);
    assert_eq!(with(&[kcv[0] ^ 1, kcv[1], kcv[2]]), Err(CKR_ATTRIBUTE_VALUE_INVALID));
    let hidden = with(&[]).unwrap();
    assert_eq!(raw.get_bytes(hidden, CKA_CHECK_VALUE).unwrap(), Vec::<u8>::new());
    // Not modifiable.
    let mut t = T::default().bytes(CKA_CHECK_VALUE, &kcv);
    // SAFETY: the template's values are owned by `t`.
    let rv = unsafe { h.raw().C_SetAttributeValue(s.handle(), hidden, t.attrs.as_mut_ptr(), 1) };
    assert_eq!(rv, CKR_ATTRIBUTE_READ_ONLY);

    let der = b"certificate-der".to_vec();
    let cert = |extra: Option<&[u8]>| {
        let mut t = T::default()
            .ulong(CKA_CLASS, CKO_CERTIFICATE)
            .ulong(CKA_CERTIFICATE_TYPE, CKC_X_509)
            .bytes(CKA_SUBJECT, b"subject")
            .bytes(CKA_VALUE, &der);
        if let Some(v) = extra {
            t = t.bytes(CKA_CHECK_VALUE, v);
        }
        raw.create(&mut t)
    };
    let c = cert(None).unwrap();
    assert_eq!(raw.get_bytes(c, CKA_CHECK_VALUE).unwrap(), sha1_kcv(&der));
    assert_eq!(cert(Some(&[0, 0, 0])), Err(CKR_ATTRIBUTE_VALUE_INVALID));
}

/// A token key's handle names nothing in a session of another token, even while the key is
/// cached and that token's user is logged in too; the cached key stays usable in its own.
/// (Public keys: a private one's handle would also carry its own login's epoch.) A session
/// key's handle neither.
#[test]
fn token_key_handles_belong_to_their_token() {
    use cryptoki::mechanism::Mechanism;
    let h = Harness::new();
    let p = h.ctx();
    let a = init_token(&p, "token-a");
    let b = init_token(&p, "token-b");
    assert_ne!(a, b);
    let (sa, sb) = (user_session(&p, a), user_session(&p, b));
    let gen_key = |s: &Session, token: bool| {
        s.generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::Token(token),
                Attribute::Private(false),
                Attribute::ValueLen(16.into()),
                Attribute::Encrypt(true),
            ],
        )
        .unwrap()
    };
    let (ka, kb) = (gen_key(&sa, true), gen_key(&sb, true));
    let use_key = |s: &Session, key| s.encrypt(&Mechanism::AesEcb, key, &[7u8; 16]);
    let ct = use_key(&sa, ka).unwrap();
    assert_eq!(use_key(&sa, ka).unwrap(), ct, "from the cache");
    assert_ne!(ka, kb);
    assert_eq!(rv(use_key(&sb, ka)), RvError::KeyHandleInvalid);
    assert_eq!(rv(use_key(&sa, kb)), RvError::KeyHandleInvalid);
    assert_eq!(use_key(&sa, ka).unwrap(), ct);
    let session_key = gen_key(&sa, false);
    let ct = use_key(&sa, session_key).unwrap();
    assert_eq!(rv(use_key(&sb, session_key)), RvError::KeyHandleInvalid, "a session key of token A");
    assert_eq!(rv(sb.get_attributes(session_key, &[AttributeType::Label])), RvError::ObjectHandleInvalid);
    assert_eq!(use_key(&sa, session_key).unwrap(), ct);
}

/// PKCS#11 3.2 trust objects (§4.7): a certificate's issuer and serial number (required), its
/// hash, and a CK_TRUST per usage, CKT_TRUST_UNKNOWN unless given; public and modifiable by
/// default; kept on the token.
#[test]
fn trust_objects() {
    let h = Harness::new();
    let p = h.ctx();
    let slot = init_token(&p, "trust");
    let issuer = b"\x30\x0f\x31\x0d\x30\x0b\x06\x03\x55\x04\x03\x0c\x04root";
    let serial = b"\x02\x01\x2a";
    let trust = |t: CK_ULONG| T::default().ulong(CKA_CLASS, CKO_TRUST).flag(CKA_TOKEN, t != 0);
    let anchor = CKT_TRUST_ANCHOR as CK_ULONG;
    let not_trusted = CKT_NOT_TRUSTED as CK_ULONG;
    let full = || {
        trust(1)
            .bytes(CKA_ISSUER, issuer)
            .bytes(CKA_SERIAL_NUMBER, serial)
            .bytes(CKA_HASH_OF_CERTIFICATE, &[0x11; 32])
            .ulong(CKA_NAME_HASH_ALGORITHM, CKM_SHA256)
            .ulong(CKA_TRUST_SERVER_AUTH, anchor)
            .ulong(CKA_TRUST_CODE_SIGNING, not_trusted)
    };
    {
        // A public object: a R/W session without a login may make it.
        let sess = p.open_rw_session(slot).unwrap();
        let s = RawSession::new(&h, &sess);
        let o = s.create(&mut full()).unwrap();
        assert_eq!(s.get_ulong(o, CKA_TRUST_SERVER_AUTH), Ok(anchor));
        assert_eq!(s.get_ulong(o, CKA_TRUST_CODE_SIGNING), Ok(not_trusted));
        for ty in [CKA_TRUST_CLIENT_AUTH, CKA_TRUST_EMAIL_PROTECTION, CKA_TRUST_OCSP_SIGNING] {
            assert_eq!(s.get_ulong(o, ty), Ok(CKT_TRUST_UNKNOWN as CK_ULONG));
        }
        assert_eq!(s.get_ulong(o, CKA_NAME_HASH_ALGORITHM), Ok(CKM_SHA256));
        assert!(!s.get_bool(o, CKA_PRIVATE) && s.get_bool(o, CKA_MODIFIABLE));
        assert_eq!(s.get_bytes(o, CKA_VALUE), Err(CKR_ATTRIBUTE_TYPE_INVALID));
        // Found by issuer and serial number.
        let mut by_cert = trust(1).bytes(CKA_ISSUER, issuer).bytes(CKA_SERIAL_NUMBER, serial);
        assert_eq!(s.find(&mut by_cert), Ok(vec![o]));
        // The trust values change; the certificate they name does not.
        assert_eq!(s.set(o, &mut T::default().ulong(CKA_TRUST_EMAIL_PROTECTION, CKT_TRUSTED as _)), Ok(()));
        assert_eq!(s.get_ulong(o, CKA_TRUST_EMAIL_PROTECTION), Ok(CKT_TRUSTED as CK_ULONG));
        assert_eq!(s.set(o, &mut T::default().bytes(CKA_ISSUER, b"\x30\x00")), Err(CKR_ATTRIBUTE_READ_ONLY));
        assert_eq!(s.set(o, &mut T::default().ulong(CKA_TRUST_IPSEC_IKE, 5)), Err(CKR_ATTRIBUTE_VALUE_INVALID));
        assert_eq!(s.get_ulong(o, CKA_TRUST_IPSEC_IKE), Ok(CKT_TRUST_UNKNOWN as CK_ULONG));

        // Issuer and serial number are required; a trusted usage needs the certificate's hash,
        // distrust and unknown trust do not.
        let mut no_issuer = trust(0).bytes(CKA_SERIAL_NUMBER, serial);
        assert_eq!(s.create(&mut no_issuer), Err(CKR_TEMPLATE_INCOMPLETE));
        let bare = || trust(0).bytes(CKA_ISSUER, issuer).bytes(CKA_SERIAL_NUMBER, serial);
        assert_eq!(s.create(&mut bare().ulong(CKA_TRUST_CLIENT_AUTH, anchor)), Err(CKR_TEMPLATE_INCOMPLETE));
        let distrust = s.create(&mut bare().ulong(CKA_TRUST_CLIENT_AUTH, not_trusted)).unwrap();
        assert_eq!(s.get_bytes(distrust, CKA_HASH_OF_CERTIFICATE), Ok(vec![]));
        assert_eq!(s.get_ulong(distrust, CKA_NAME_HASH_ALGORITHM), Ok(CKM_SHA_1));
        // ... and so does trusting a usage later, or in a copy.
        let mut trusted = T::default().ulong(CKA_TRUST_CLIENT_AUTH, CKT_TRUSTED as _);
        assert_eq!(s.set(distrust, &mut trusted), Err(CKR_TEMPLATE_INCONSISTENT));
        assert_eq!(s.copy(distrust, &mut trusted), Err(CKR_TEMPLATE_INCONSISTENT));
        assert_eq!(s.create(&mut bare().ulong(CKA_TRUST_SERVER_AUTH, 9)), Err(CKR_ATTRIBUTE_VALUE_INVALID));
        // Attributes other classes have are not a trust object's.
        assert_eq!(s.create(&mut full().bytes(CKA_VALUE, b"x")), Err(CKR_ATTRIBUTE_TYPE_INVALID));
    }
    // Kept on the token: a new process context finds it with the trust set above.
    p.finalize().unwrap();
    let p = h.ctx();
    let sess = p.open_ro_session(slot).unwrap();
    let s = RawSession::new(&h, &sess);
    let found = s.find(&mut T::default().ulong(CKA_CLASS, CKO_TRUST)).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(s.get_ulong(found[0], CKA_TRUST_EMAIL_PROTECTION), Ok(CKT_TRUSTED as CK_ULONG));
    assert_eq!(s.get_bytes(found[0], CKA_HASH_OF_CERTIFICATE), Ok(vec![0x11; 32]));
}

/// Profile objects (3.0 §4.13, OASIS PKCS #11 Profiles 3.2): every token shows Baseline
/// Provider, Extended Provider and Authentication Token as read-only public token objects,
/// found by a template asking for CKO_PROFILE (with or without a login), never by one that
/// does not, so a token an application empties or counts still looks empty.
#[test]
fn profile_objects() {
    let (h, p, slot, s) = raw_user_env("profiles");
    let profile = || T::default().ulong(CKA_CLASS, CKO_PROFILE);
    let found = s.find(&mut profile()).unwrap();
    let mut ids: Vec<CK_ULONG> = found.iter().map(|o| s.get_ulong(*o, CKA_PROFILE_ID).unwrap()).collect();
    ids.sort();
    assert_eq!(ids, [CKP_BASELINE_PROVIDER, CKP_EXTENDED_PROVIDER, CKP_AUTHENTICATION_TOKEN]);
    for &o in &found {
        assert!(s.get_bool(o, CKA_TOKEN) && !s.get_bool(o, CKA_PRIVATE));
        assert!(!s.get_bool(o, CKA_MODIFIABLE) && !s.get_bool(o, CKA_COPYABLE) && !s.get_bool(o, CKA_DESTROYABLE));
        assert_eq!(s.get_bytes(o, CKA_VALUE), Err(CKR_ATTRIBUTE_TYPE_INVALID));
        // Read-only in every way.
        assert_eq!(s.set(o, &mut T::default().bytes(CKA_LABEL, b"mine")), Err(CKR_ACTION_PROHIBITED));
        assert_eq!(s.copy(o, &mut T::default()), Err(CKR_ACTION_PROHIBITED));
        // SAFETY: a plain call on live handles.
        assert_eq!(unsafe { s.lib.C_DestroyObject(s.h, o) }, CKR_ACTION_PROHIBITED);
        let mut size = 0;
        // SAFETY: a live output.
        assert_eq!(unsafe { s.lib.C_GetObjectSize(s.h, o, &mut size) }, CKR_OK);
        // Not a key.
        let mut m = mech::<u8>(CKM_AES_ECB, None);
        // SAFETY: a live mechanism.
        assert_eq!(unsafe { s.lib.C_EncryptInit(s.h, &mut m, o) }, CKR_KEY_TYPE_INCONSISTENT);
    }
    // By profile id; with other attributes; not by a template without the class.
    let extended = s.find(&mut profile().ulong(CKA_PROFILE_ID, CKP_EXTENDED_PROVIDER)).unwrap();
    assert_eq!(extended.len(), 1);
    assert_eq!(s.get_ulong(extended[0], CKA_PROFILE_ID).unwrap(), CKP_EXTENDED_PROVIDER);
    assert_eq!(s.find(&mut profile().flag(CKA_TOKEN, true)).unwrap().len(), 3);
    assert_eq!(s.find(&mut profile().flag(CKA_PRIVATE, true)).unwrap(), []);
    assert_eq!(s.find(&mut T::default()).unwrap(), []);
    assert_eq!(s.find(&mut T::default().flag(CKA_TOKEN, true)).unwrap(), []);
    assert_eq!(s.find(&mut T::default().ulong(CKA_PROFILE_ID, CKP_BASELINE_PROVIDER)).unwrap(), []);
    // Other classes of objects cannot be profiles, and none can be made.
    assert_eq!(s.create(&mut profile().ulong(CKA_PROFILE_ID, CKP_BASELINE_PROVIDER)), Err(CKR_ATTRIBUTE_VALUE_INVALID));
    // A public session without a login sees them too; a handle that names no profile does
    // not resolve.
    let public = p.open_ro_session(slot).unwrap();
    let r = RawSession::new(&h, &public);
    assert_eq!(r.find(&mut profile()).unwrap().len(), 3);
    assert_eq!(r.get_ulong(found[0], CKA_CLASS).unwrap(), CKO_PROFILE);
    let beyond = found.iter().max().unwrap() + 1;
    assert_eq!(r.get_ulong(beyond, CKA_CLASS), Err(CKR_OBJECT_HANDLE_INVALID));
}

/// CKA_START_DATE and CKA_END_DATE (CK_DATE): empty or eight ASCII digits (YYYYMMDD), kept
/// as given, changeable; another length or a non-digit is CKR_ATTRIBUTE_VALUE_INVALID.
#[test]
fn key_dates() {
    let (_h, _p, _slot, s) = raw_user_env("dates");
    let key = |start: &[u8], end: &[u8]| {
        s.create(
            &mut T::secret(CKK_AES).bytes(CKA_VALUE, &[7; 16]).bytes(CKA_START_DATE, start).bytes(CKA_END_DATE, end),
        )
    };
    let k = key(b"20261202", b"").unwrap();
    assert_eq!(s.get_bytes(k, CKA_START_DATE).unwrap(), b"20261202");
    assert_eq!(s.get_bytes(k, CKA_END_DATE).unwrap(), b"");
    s.set(k, &mut T::default().bytes(CKA_END_DATE, b"20271231")).unwrap();
    assert_eq!(s.get_bytes(k, CKA_END_DATE).unwrap(), b"20271231");
    let plain = s.secret_key(CKK_AES, &[8; 16]).unwrap();
    assert_eq!(s.get_bytes(plain, CKA_START_DATE).unwrap(), b"", "empty by default");
    for bad in [&b"2026-12-"[..], b"2026120", b"202612020"] {
        assert_eq!(key(bad, b""), Err(CKR_ATTRIBUTE_VALUE_INVALID), "{bad:?}");
        assert_eq!(key(b"", bad), Err(CKR_ATTRIBUTE_VALUE_INVALID), "{bad:?}");
        assert_eq!(s.set(k, &mut T::default().bytes(CKA_START_DATE, bad)), Err(CKR_ATTRIBUTE_VALUE_INVALID));
    }
    assert_eq!(s.get_bytes(k, CKA_START_DATE).unwrap(), b"20261202", "a refused change changes nothing");
}

/// C_GenerateKey / C_GenerateKeyPair: an attribute the token computes or generates (Table
/// 10, footnote 4) is refused with CKR_ATTRIBUTE_READ_ONLY, whatever value it is given; one
/// the mechanism needs and does not get is CKR_TEMPLATE_INCOMPLETE.
#[test]
fn generation_templates_leave_the_made_attributes_to_the_token() {
    use cryptoki::mechanism::Mechanism;
    let h = Harness::new();
    let p = h.ctx();
    let slot = init_token(&p, "generation");
    let s = user_session(&p, slot);
    let aes = |extra: &[Attribute]| {
        let mut t = vec![Attribute::ValueLen(32.into())];
        t.extend_from_slice(extra);
        s.generate_key(&Mechanism::AesKeyGen, &t)
    };
    assert_eq!(rv(aes(&[Attribute::Value(vec![1; 32])])), RvError::AttributeReadOnly, "CKA_VALUE");
    assert_eq!(rv(aes(&[Attribute::Local(true)])), RvError::AttributeReadOnly, "CKA_LOCAL");
    assert_eq!(rv(aes(&[Attribute::AlwaysSensitive(true)])), RvError::AttributeReadOnly);
    assert_eq!(rv(s.generate_key(&Mechanism::AesKeyGen, &[])), RvError::TemplateIncomplete, "no CKA_VALUE_LEN");
    let p256 = || Attribute::EcParams(common::asymmetric::P256.to_vec());
    let ec =
        |public: &[Attribute], private: &[Attribute]| s.generate_key_pair(&Mechanism::EccKeyPairGen, public, private);
    assert_eq!(rv(ec(&[p256(), Attribute::EcPoint(vec![4; 65])], &[])), RvError::AttributeReadOnly, "CKA_EC_POINT");
    assert_eq!(rv(ec(&[p256()], &[Attribute::Value(vec![1; 32])])), RvError::AttributeReadOnly, "the scalar");
    assert_eq!(rv(ec(&[], &[])), RvError::TemplateIncomplete, "no curve");
    let rsa = |public: &[Attribute], private: &[Attribute]| {
        s.generate_key_pair(&Mechanism::RsaPkcsKeyPairGen, public, private)
    };
    let bits = || Attribute::ModulusBits(2048.into());
    assert_eq!(rv(rsa(&[bits(), Attribute::Modulus(vec![0xc5; 256])], &[])), RvError::AttributeReadOnly, "modulus");
    assert_eq!(rv(rsa(&[bits()], &[Attribute::PrivateExponent(vec![3; 256])])), RvError::AttributeReadOnly);
    assert_eq!(rv(rsa(&[], &[])), RvError::TemplateIncomplete, "no CKA_MODULUS_BITS");
    // What is left to the token is still made: the same calls without them work.
    aes(&[]).unwrap();
    ec(&[p256()], &[]).unwrap();
    // The curve belongs to the public template (Table 174: not given when generated).
    assert_eq!(rv(ec(&[p256()], &[p256()])), RvError::AttributeReadOnly);
}

/// C_FindObjects with neither a label nor an id (nothing the store indexes): the key type
/// before the class, or alone, finds the same token key as the class first.
#[test]
fn find_by_key_type_and_class_in_any_order() {
    let h = Harness::new();
    let p = h.ctx();
    let slot = init_token(&p, "find-order");
    let s = user_session(&p, slot);
    let k = s.create_object(&aes("key", &[])).unwrap();
    s.create_object(&[Attribute::Class(ObjectClass::DATA), Attribute::Token(true)]).unwrap();
    for t in [
        vec![Attribute::KeyType(KeyType::AES), Attribute::Class(ObjectClass::SECRET_KEY)],
        vec![Attribute::Class(ObjectClass::SECRET_KEY), Attribute::KeyType(KeyType::AES)],
        vec![Attribute::KeyType(KeyType::AES)],
    ] {
        assert_eq!(s.find_objects(&t).unwrap(), vec![k], "{t:?}");
    }
}
