/* registry.c - the decoders the engine knows, in one table, in the order
 * their content probes run. A decoder is added here with its descriptor
 * (decoder.h): one DECODER line and one table entry. */
#include <string.h>

#include "decoder.h"

#define DECODER(name) extern const eng_decoder_t name;
DECODER(eng_decoder_http)
DECODER(eng_decoder_smtp)
DECODER(eng_decoder_pop3)
DECODER(eng_decoder_imap)
DECODER(eng_decoder_ssl)
DECODER(eng_decoder_dns)
DECODER(eng_decoder_ftp)
DECODER(eng_decoder_ftp_data)
DECODER(eng_decoder_sip) DECODER(eng_decoder_rtp)

static const eng_decoder_t *const table[] = {
    &eng_decoder_sip, &eng_decoder_rtp, /* before http: "OPTIONS sip:... SIP/2.0" */
    &eng_decoder_http,
    &eng_decoder_smtp,
    &eng_decoder_pop3,
    &eng_decoder_imap,
    &eng_decoder_ssl,
    &eng_decoder_dns,
    &eng_decoder_ftp,
    &eng_decoder_ftp_data,
};
#define NTABLE ((int)(sizeof table / sizeof table[0]))

/* constant time: detection calls both for every probe of every new flow */
int eng_decoder_count(void) { return NTABLE; }

const eng_decoder_t *eng_decoder_at(int i) { return i >= 0 && i < NTABLE ? table[i] : NULL; }

const eng_decoder_t *eng_decoder_find(const char *name) {
    for (int k = 0; name && k < NTABLE; k++)
        if (table[k] && !strcmp(table[k]->name, name)) return table[k];
    return NULL;
}

int eng_decoder_index(const eng_decoder_t *d) {
    for (int k = 0, i = 0; k < NTABLE; k++) {
        if (!table[k]) continue;
        if (table[k] == d) return i;
        i++;
    }
    return -1;
}
