/* registry.c - the decoders the engine knows, in one table.
 * A decoder is added here with its descriptor (decoder.h). */
#include <string.h>

#include "decoder.h"

static const eng_decoder_t *const decoders[] = {
    NULL /* end */
};

int eng_decoder_count(void) { return (int)(sizeof decoders / sizeof decoders[0]) - 1; }

const eng_decoder_t *eng_decoder_at(int i) {
    return i >= 0 && i < eng_decoder_count() ? decoders[i] : NULL;
}

const eng_decoder_t *eng_decoder_find(const char *name) {
    for (int i = 0; name && i < eng_decoder_count(); i++)
        if (!strcmp(decoders[i]->name, name)) return decoders[i];
    return NULL;
}
