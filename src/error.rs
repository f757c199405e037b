//! The one error type of the engine and the single place where it becomes a `CK_RV`.
//!
//! Engine code returns [`Error`]; only [`Error::rv`] knows the PKCS#11 numbers. Store and
//! crypto failures keep their cause for logging but surface as `CKR_DEVICE_ERROR` /
//! `CKR_DEVICE_MEMORY`, never as a code that blames the caller.

use cryptoki_sys::*;
use std::fmt;

/// Everything that can go wrong in the engine, named after the PKCS#11 return value it maps to.
#[derive(Debug)]
pub enum Error {
    ArgumentsBad,
    AttributeReadOnly,
    AttributeSensitive,
    AttributeTypeInvalid,
    AttributeValueInvalid,
    ActionProhibited,
    BufferTooSmall,
    CryptokiAlreadyInitialized,
    CryptokiNotInitialized,
    DataLenRange,
    DataInvalid,
    FunctionNotSupported,
    FunctionNotParallel,
    /// C_WaitForSlotEvent with CKF_DONT_BLOCK: no slot event.
    NoEvent,
    KeyHandleInvalid,
    MechanismInvalid,
    MechanismParamInvalid,
    ObjectHandleInvalid,
    OperationActive,
    /// A call of the other kind than the one the operation began with: an update or final
    /// call after a single-part call's size query or short buffer, or a single-part call
    /// after an update. CKR_OPERATION_ACTIVE, and, as any error of those calls but a short
    /// buffer (§5.2: "always terminates the active ... operation unless"), the operation
    /// ends.
    WrongStage,
    OperationNotInitialized,
    ParameterSetNotSupported,
    PinIncorrect,
    PinInvalid,
    PinLenRange,
    PinLocked,
    SessionClosed,
    SessionCount,
    SessionExists,
    SessionHandleInvalid,
    SessionAsyncNotSupported,
    SessionParallelNotSupported,
    SessionReadOnly,
    SessionReadOnlyExists,
    SessionReadWriteSoExists,
    SlotIdInvalid,
    TemplateIncomplete,
    TemplateInconsistent,
    TokenNotRecognized,
    TokenWriteProtected,
    UserAlreadyLoggedIn,
    UserAnotherAlreadyLoggedIn,
    UserNotLoggedIn,
    UserPinNotInitialized,
    UserTypeInvalid,
    UserTooManyTypes,
    EncryptedDataInvalid,
    EncryptedDataLenRange,
    KeySizeRange,
    KeyTypeInconsistent,
    KeyFunctionNotPermitted,
    SignatureInvalid,
    SignatureLenRange,
    AeadDecryptFailed,
    KeyNotWrappable,
    KeyUnextractable,
    WrappingKeyHandleInvalid,
    WrappingKeyTypeInconsistent,
    WrappingKeySizeRange,
    WrappedKeyInvalid,
    WrappedKeyLenRange,
    UnwrappingKeyHandleInvalid,
    UnwrappingKeyTypeInconsistent,
    UnwrappingKeySizeRange,
    KeyIndigestible,
    StateUnsaveable,
    SavedStateInvalid,
    KeyNeeded,
    KeyNotNeeded,
    KeyChanged,
    CurveNotSupported,
    DomainParamsInvalid,
    HostMemory,
    /// The store could not be read or written; the string says why (never a secret).
    Device(String),
    /// The store's medium is full.
    DeviceMemory(String),
    /// Stored data failed authentication or decoding: tampering or corruption.
    Corrupt(String),
    /// Configuration could not be read or is invalid; the string names the file and line.
    Config(String),
    /// A bug: an invariant did not hold. Mapped to CKR_GENERAL_ERROR.
    Internal(String),
}

/// The engine's result type.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// The PKCS#11 return value for this error.
    pub fn rv(&self) -> CK_RV {
        match self {
            Error::ArgumentsBad => CKR_ARGUMENTS_BAD,
            Error::AttributeReadOnly => CKR_ATTRIBUTE_READ_ONLY,
            Error::AttributeSensitive => CKR_ATTRIBUTE_SENSITIVE,
            Error::AttributeTypeInvalid => CKR_ATTRIBUTE_TYPE_INVALID,
            Error::AttributeValueInvalid => CKR_ATTRIBUTE_VALUE_INVALID,
            Error::ActionProhibited => CKR_ACTION_PROHIBITED,
            Error::BufferTooSmall => CKR_BUFFER_TOO_SMALL,
            Error::CryptokiAlreadyInitialized => CKR_CRYPTOKI_ALREADY_INITIALIZED,
            Error::CryptokiNotInitialized => CKR_CRYPTOKI_NOT_INITIALIZED,
            Error::DataLenRange => CKR_DATA_LEN_RANGE,
            Error::DataInvalid => CKR_DATA_INVALID,
            Error::FunctionNotSupported => CKR_FUNCTION_NOT_SUPPORTED,
            Error::FunctionNotParallel => CKR_FUNCTION_NOT_PARALLEL,
            Error::NoEvent => CKR_NO_EVENT,
            Error::KeyHandleInvalid => CKR_KEY_HANDLE_INVALID,
            Error::MechanismInvalid => CKR_MECHANISM_INVALID,
            Error::MechanismParamInvalid => CKR_MECHANISM_PARAM_INVALID,
            Error::ObjectHandleInvalid => CKR_OBJECT_HANDLE_INVALID,
            Error::OperationActive | Error::WrongStage => CKR_OPERATION_ACTIVE,
            Error::OperationNotInitialized => CKR_OPERATION_NOT_INITIALIZED,
            Error::ParameterSetNotSupported => CKR_PARAMETER_SET_NOT_SUPPORTED,
            Error::PinIncorrect => CKR_PIN_INCORRECT,
            Error::PinInvalid => CKR_PIN_INVALID,
            Error::PinLenRange => CKR_PIN_LEN_RANGE,
            Error::PinLocked => CKR_PIN_LOCKED,
            Error::SessionClosed => CKR_SESSION_CLOSED,
            Error::SessionCount => CKR_SESSION_COUNT,
            Error::SessionExists => CKR_SESSION_EXISTS,
            Error::SessionHandleInvalid => CKR_SESSION_HANDLE_INVALID,
            Error::SessionAsyncNotSupported => CKR_SESSION_ASYNC_NOT_SUPPORTED,
            Error::SessionParallelNotSupported => CKR_SESSION_PARALLEL_NOT_SUPPORTED,
            Error::SessionReadOnly => CKR_SESSION_READ_ONLY,
            Error::SessionReadOnlyExists => CKR_SESSION_READ_ONLY_EXISTS,
            Error::SessionReadWriteSoExists => CKR_SESSION_READ_WRITE_SO_EXISTS,
            Error::SlotIdInvalid => CKR_SLOT_ID_INVALID,
            Error::TemplateIncomplete => CKR_TEMPLATE_INCOMPLETE,
            Error::TemplateInconsistent => CKR_TEMPLATE_INCONSISTENT,
            Error::TokenNotRecognized => CKR_TOKEN_NOT_RECOGNIZED,
            Error::TokenWriteProtected => CKR_TOKEN_WRITE_PROTECTED,
            Error::UserAlreadyLoggedIn => CKR_USER_ALREADY_LOGGED_IN,
            Error::UserAnotherAlreadyLoggedIn => CKR_USER_ANOTHER_ALREADY_LOGGED_IN,
            Error::UserNotLoggedIn => CKR_USER_NOT_LOGGED_IN,
            Error::UserPinNotInitialized => CKR_USER_PIN_NOT_INITIALIZED,
            Error::UserTypeInvalid => CKR_USER_TYPE_INVALID,
            Error::UserTooManyTypes => CKR_USER_TOO_MANY_TYPES,
            Error::EncryptedDataInvalid => CKR_ENCRYPTED_DATA_INVALID,
            Error::EncryptedDataLenRange => CKR_ENCRYPTED_DATA_LEN_RANGE,
            Error::KeySizeRange => CKR_KEY_SIZE_RANGE,
            Error::KeyTypeInconsistent => CKR_KEY_TYPE_INCONSISTENT,
            Error::KeyFunctionNotPermitted => CKR_KEY_FUNCTION_NOT_PERMITTED,
            Error::SignatureInvalid => CKR_SIGNATURE_INVALID,
            Error::SignatureLenRange => CKR_SIGNATURE_LEN_RANGE,
            Error::AeadDecryptFailed => CKR_AEAD_DECRYPT_FAILED,
            Error::KeyNotWrappable => CKR_KEY_NOT_WRAPPABLE,
            Error::KeyUnextractable => CKR_KEY_UNEXTRACTABLE,
            Error::WrappingKeyHandleInvalid => CKR_WRAPPING_KEY_HANDLE_INVALID,
            Error::WrappingKeyTypeInconsistent => CKR_WRAPPING_KEY_TYPE_INCONSISTENT,
            Error::WrappingKeySizeRange => CKR_WRAPPING_KEY_SIZE_RANGE,
            Error::WrappedKeyInvalid => CKR_WRAPPED_KEY_INVALID,
            Error::WrappedKeyLenRange => CKR_WRAPPED_KEY_LEN_RANGE,
            Error::UnwrappingKeyHandleInvalid => CKR_UNWRAPPING_KEY_HANDLE_INVALID,
            Error::UnwrappingKeyTypeInconsistent => CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT,
            Error::UnwrappingKeySizeRange => CKR_UNWRAPPING_KEY_SIZE_RANGE,
            Error::KeyIndigestible => CKR_KEY_INDIGESTIBLE,
            Error::StateUnsaveable => CKR_STATE_UNSAVEABLE,
            Error::SavedStateInvalid => CKR_SAVED_STATE_INVALID,
            Error::KeyNeeded => CKR_KEY_NEEDED,
            Error::KeyNotNeeded => CKR_KEY_NOT_NEEDED,
            Error::KeyChanged => CKR_KEY_CHANGED,
            Error::CurveNotSupported => CKR_CURVE_NOT_SUPPORTED,
            Error::DomainParamsInvalid => CKR_DOMAIN_PARAMS_INVALID,
            Error::HostMemory => CKR_HOST_MEMORY,
            Error::Device(_) | Error::Corrupt(_) => CKR_DEVICE_ERROR,
            Error::DeviceMemory(_) => CKR_DEVICE_MEMORY,
            Error::Config(_) => CKR_GENERAL_ERROR,
            Error::Internal(_) => CKR_GENERAL_ERROR,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Device(s) => write!(f, "store error: {s}"),
            Error::DeviceMemory(s) => write!(f, "store full: {s}"),
            Error::Corrupt(s) => write!(f, "store data failed authentication: {s}"),
            Error::Config(s) => write!(f, "configuration: {s}"),
            Error::Internal(s) => write!(f, "internal error: {s}"),
            other => write!(f, "{other:?} (CKR 0x{:08X})", other.rv()),
        }
    }
}

impl std::error::Error for Error {}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ffi::ErrorCode;
        match e.sqlite_error_code() {
            Some(ErrorCode::DiskFull) => Error::DeviceMemory(e.to_string()),
            Some(ErrorCode::ReadOnly) => Error::TokenWriteProtected,
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => Error::Device(format!(
                "{e}: another process held the store's write lock for longer than the busy timeout \
                 (busy_timeout_ms in the configuration)"
            )),
            _ => Error::Device(e.to_string()),
        }
    }
}
