//! Store record decoding (`objects.attrs`, doc/STORAGE.md): any bytes decode to an object or
//! to an error, never a panic; what decodes re-encodes to a record that decodes the same, unless
//! sealed values were skipped (no master key), which the encoder refuses to write back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oxihsm::crypto::SecretKey256;
use oxihsm::object::decode_value;
use oxihsm::store::seal::Sealer;
use oxihsm::store::sqlite::{decode_record, encode_record};
use std::sync::OnceLock;

fn sealer() -> &'static Sealer {
    static S: OnceLock<Sealer> = OnceLock::new();
    S.get_or_init(|| Sealer::new(SecretKey256::from_slice(&[7u8; 32]).unwrap(), [9u8; 16]).unwrap())
}

fuzz_target!(|data: &[u8]| {
    let _ = decode_value(data);
    let uid = "fuzz-object";
    // Without the master key sealed values are skipped; with it they fail authentication.
    if let Ok(obj) = decode_record(uid, data, None) {
        // An object whose sealed values were skipped is never written back.
        if obj.withheld() {
            assert!(encode_record(&obj, Some(sealer())).is_err(), "a withheld object was re-encoded");
            return;
        }
        let again = encode_record(&obj, Some(sealer())).expect("a decoded object re-encodes");
        // Sealing binds the object's own CKA_UNIQUE_ID, which the store keeps as the row's uid.
        let back = decode_record(obj.unique_id(), &again, Some(sealer())).expect("a re-encoded object decodes");
        assert_eq!(back, obj);
    }
    let _ = decode_record(uid, data, Some(sealer()));
});
