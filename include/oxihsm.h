/*
 * oxihsm.h - oxihsm's own definitions for C users of liboxihsm.so.
 *
 * Pair this header with the standard OASIS PKCS#11 headers (pkcs11.h), which declare every
 * C_* function and CK_* type. liboxihsm.so exports exactly the PKCS#11 functions; it defines
 * no vendor-specific attributes, mechanisms or return values yet.
 */
#ifndef OXIHSM_H
#define OXIHSM_H

/* The interface name passed to C_GetInterface. Versions offered: 3.2, 3.0 and 2.40. */
#define OXIHSM_INTERFACE_NAME "PKCS 11"

/* Environment variable naming oxihsm's TOML configuration (top-level key token_dir). */
#define OXIHSM_CONF_ENV "OXIHSM_CONF"

/* PIN length limits reported in CK_TOKEN_INFO. */
#define OXIHSM_MIN_PIN_LEN 4
#define OXIHSM_MAX_PIN_LEN 255

#endif /* OXIHSM_H */
