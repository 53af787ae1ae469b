/* http_smtp_print.c - embedding the engine's C core with no Lua (c-api.md):
 * print the HTTP request lines and the SMTP senders of a capture.
 *
 *   build/embed/http_smtp_print [-p] CAPTURE
 *
 * Output, one line per event, in capture order:
 *   http <uid> <method> <uri>           (offset of the request line in the stream)
 *   smtp <uid> MAIL FROM <address>
 * and the counters on standard error. Fields are (pointer, length) views
 * valid only during the callback: they are printed, not kept.
 *
 * By default the whole file is read with eng_read_file(). With -p the program
 * owns the capture loop instead (libpcap) and feeds one packet at a time with
 * eng_feed(), as a program with its own packet source would.
 */
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <string.h>

#include "engine.h"

struct counts {
    unsigned long http, smtp;
};

static void print_view(const eng_value_t *v) {
    if (v->type == ENG_T_STR) fwrite(v->u.s, 1, v->len, stdout);
    else fputs("-", stdout);
}

static void on_http_request(eng_t *e, const eng_event_t *ev, void *user) {
    (void)e;
    struct counts *c = user;
    c->http++;
    const eng_value_t *method = &ev->f[ENG_F_HTTP_REQUEST_method];
    const eng_value_t *uri = &ev->f[ENG_F_HTTP_REQUEST_uri];
    if (ev->nfields <= ENG_F_HTTP_REQUEST_uri) return;
    printf("http %s ", ev->flow ? ev->flow->uid : "-");
    print_view(method);
    putchar(' ');
    print_view(uri);
    if (method->offset != ENG_NO_OFFSET) printf("  (stream offset %" PRIu64 ")", method->offset);
    putchar('\n');
}

static void on_mail_from(eng_t *e, const eng_event_t *ev, void *user) {
    (void)e;
    struct counts *c = user;
    c->smtp++;
    if (ev->nfields <= ENG_F_SMTP_MAIL_FROM_addr) return;
    printf("smtp %s MAIL FROM ", ev->flow ? ev->flow->uid : "-");
    print_view(&ev->f[ENG_F_SMTP_MAIL_FROM_addr]);
    putchar('\n');
}

/* -p: our own capture loop, one eng_feed() per packet */
static int feed_packets(eng_t *e, const char *path) {
    char errbuf[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, errbuf);
    if (!p) {
        fprintf(stderr, "http_smtp_print: %s\n", errbuf);
        return 1;
    }
    int dlt = pcap_datalink(p);
    struct pcap_pkthdr *h;
    const u_char *data;
    int rc;
    while ((rc = pcap_next_ex(p, &h, &data)) == 1)
        eng_feed(e, (int64_t)h->ts.tv_sec * 1000000000LL + h->ts.tv_usec, dlt, data, h->caplen,
                 h->len);
    pcap_close(p);
    return rc == -1 ? 1 : 0;
}

int main(int argc, char **argv) {
    int own_loop = argc == 3 && strcmp(argv[1], "-p") == 0;
    if (argc != 2 && !own_loop) {
        fprintf(stderr, "usage: http_smtp_print [-p] CAPTURE\n");
        return 2;
    }
    const char *path = argv[argc - 1];
    struct counts c = {0, 0};
    eng_t *e = eng_new();
    if (!e) return 1;
    /* only the kinds with a subscriber cost anything */
    eng_on(e, ENG_EV_HTTP_REQUEST, on_http_request, &c);
    eng_on(e, ENG_EV_SMTP_MAIL_FROM, on_mail_from, &c);

    int rc;
    char err[512] = "";
    if (own_loop) {
        rc = feed_packets(e, path);
    } else {
        rc = eng_read_file(e, path, NULL, err, sizeof err);
        if (rc == 2) fprintf(stderr, "http_smtp_print: warning: %s\n", err);
        if (rc == 1) fprintf(stderr, "http_smtp_print: %s\n", err);
        if (rc == 2) rc = 0;
    }
    eng_finish(e); /* end every flow: pending events fire */
    const eng_stats_t *s = eng_stats(e);
    fprintf(stderr, "packets %" PRIu64 ", flows %" PRIu64 ", http requests %lu, smtp senders %lu\n",
            s->packets, s->flows, c.http, c.smtp);
    eng_free(e);
    return rc ? 1 : 0;
}
