/* sasl.h - the client side of a SASL exchange (RFC 4422) as SMTP AUTH,
 * POP3 AUTH and IMAP AUTHENTICATE carry it: a mechanism name, then base64
 * responses (the first may ride on the command), and what credentials can be
 * recovered from them:
 *   PLAIN        "authzid\0authcid\0password": user = authcid (authzid when
 *                authcid is empty), password
 *   LOGIN        responses in order user, password; a decoded server
 *                challenge saying "user"/"pass" (sasl_challenge) overrides
 *                the order
 *   CRAM-MD5     "user digest": user
 *   XOAUTH2      "user=...\1...": user
 *   OAUTHBEARER  GS2 header "...,a=user,...": user
 *   SCRAM-*      first response "n,,n=user,r=...": user
 * Any other mechanism is only named. "*" cancels; "=" is an empty response.
 * A response is decoded into at most SASL_B64_MAX bytes; user and password
 * are cut at SASL_CRED_MAX bytes.
 *
 *   sasl_t a; sasl_start(&a, mech, mech_len);
 *   sasl_response(&a, line, len);   ...   a.user / a.pass / a.cancelled
 */
#ifndef DECODERS_SASL_H
#define DECODERS_SASL_H

#include <stddef.h>
#include <stdint.h>

#define SASL_CRED_MAX 256
#define SASL_MECH_MAX 32
#define SASL_B64_MAX 1024

enum { SASL_OTHER = 0, SASL_PLAIN, SASL_LOGIN, SASL_CRAM, SASL_XOAUTH2, SASL_OAUTHBEARER,
       SASL_SCRAM };

/* sasl_response results */
enum { SASL_OK = 0, SASL_BAD_BASE64, SASL_BAD_PLAIN };

typedef struct sasl {
    uint8_t mech;      /* SASL_* */
    uint8_t nresp;     /* responses given so far (saturates at 255) */
    uint8_t hint;      /* LOGIN: the last challenge said 1 user, 2 password */
    uint8_t has_user, has_pass, cancelled;
    uint16_t ulen, plen;
    char name[SASL_MECH_MAX + 1]; /* upper case */
    uint8_t user[SASL_CRED_MAX], pass[SASL_CRED_MAX];
} sasl_t;

/* a new exchange for mechanism mech[0..n) (cut at SASL_MECH_MAX) */
void sasl_start(sasl_t *a, const uint8_t *mech, size_t n);
/* how many responses the client sends, when the mechanism fixes it (PLAIN 1,
 * LOGIN 2); 0 when unknown */
int sasl_expected(const sasl_t *a);
/* one client response line (trimmed, without its line ending) */
int sasl_response(sasl_t *a, const uint8_t *p, size_t n);
/* a server challenge (base64) */
void sasl_challenge(sasl_t *a, const uint8_t *p, size_t n);

#endif
