/* Immutable, reference-counted policy and REST-secret snapshots. */
#include "turn/policy.h"

#include <stdio.h>
#include <stdlib.h>

#include "rtc/stun.h"
#include "rtc/turn.h"

turn_policy_t *turn_policy_new(void) {
    turn_policy_t *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    atomic_init(&p->refs, 1);
    turn_policy_set_realm(p, "starling");
    p->alloc_lifetime_default = RTC_TURN_DEFAULT_LIFETIME;
    p->alloc_lifetime_max = RTC_TURN_MAX_LIFETIME;
    p->perm_lifetime = RTC_TURN_PERMISSION_LIFETIME;
    p->chan_lifetime = RTC_TURN_CHANNEL_LIFETIME;
    p->nonce_lifetime = 600;
    p->max_perms_per_alloc = 128;
    p->unauth_rate = 50;
    p->unauth_burst = 100;
    p->channel_max = 0x7FFF;
    turn_peer_filter_init(&p->filter);
    return p;
}

turn_policy_t *turn_policy_ref(turn_policy_t *p) {
    if (p) atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
    return p;
}

void turn_policy_unref(turn_policy_t *p) {
    if (!p || atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) != 1) return;
    for (size_t i = 0; i < p->n_users; i++) free(p->users[i].name);
    free(p->users);
    for (size_t i = 0; i < p->n_static_secrets; i++) free(p->static_secrets[i]);
    free(p->static_secrets);
    free(p);
}

void turn_policy_set_realm(turn_policy_t *p, const char *realm) {
    snprintf(p->realm, sizeof p->realm, "%s", realm ? realm : "");
}

int turn_policy_add_user(turn_policy_t *p, const char *name, const char *password) {
    if (!name || !*name || !password || strlen(name) >= TURN_USERNAME_MAX) return RTC_ERR_MALFORMED;
    for (size_t i = 0; i < p->n_users; i++)
        if (strcmp(p->users[i].name, name) == 0) return RTC_ERR_DUPLICATE;
    turn_user_t u;
    if (password[0] == '0' && (password[1] == 'x' || password[1] == 'X') && strlen(password) == 34) {
        if (rtc_hex_decode(password + 2, 32, u.key, sizeof u.key) != TURN_LT_KEY_LEN) return RTC_ERR_MALFORMED;
    } else {
        uint8_t full[RTC_STUN_KEY_MAX];
        if (rtc_stun_long_term_key(RTC_STUN_PASSWORD_MD5, name, p->realm, password, full) != TURN_LT_KEY_LEN)
            return RTC_ERR_MALFORMED;
        memcpy(u.key, full, TURN_LT_KEY_LEN);
    }
    if (p->n_users == p->cap_users) {
        size_t cap = p->cap_users ? p->cap_users * 2 : 8;
        turn_user_t *nu = realloc(p->users, cap * sizeof *nu);
        if (!nu) return RTC_ERR_NOMEM;
        p->users = nu;
        p->cap_users = cap;
    }
    u.name = strdup(name);
    if (!u.name) return RTC_ERR_NOMEM;
    p->users[p->n_users++] = u;
    return RTC_OK;
}

int turn_policy_add_user_spec(turn_policy_t *p, const char *spec) {
    const char *colon = spec ? strchr(spec, ':') : NULL;
    if (!colon || colon == spec || (size_t)(colon - spec) >= TURN_USERNAME_MAX) return RTC_ERR_MALFORMED;
    char name[TURN_USERNAME_MAX];
    memcpy(name, spec, (size_t)(colon - spec));
    name[colon - spec] = '\0';
    return turn_policy_add_user(p, name, colon + 1);
}

int turn_policy_add_static_secret(turn_policy_t *p, const char *secret) {
    if (!secret || !*secret) return RTC_ERR_MALFORMED;
    char **ns = realloc(p->static_secrets, (p->n_static_secrets + 1) * sizeof *ns);
    if (!ns) return RTC_ERR_NOMEM;
    p->static_secrets = ns;
    if (!(ns[p->n_static_secrets] = strdup(secret))) return RTC_ERR_NOMEM;
    p->n_static_secrets++;
    p->rest_enabled = true;
    return RTC_OK;
}

static int user_cmp(const void *a, const void *b) {
    return strcmp(((const turn_user_t *)a)->name, ((const turn_user_t *)b)->name);
}

void turn_policy_finish(turn_policy_t *p) {
    if (p->n_users > 1) qsort(p->users, p->n_users, sizeof *p->users, user_cmp);
}

const turn_user_t *turn_policy_find_user(const turn_policy_t *p, const char *name) {
    if (!p || !name || !p->n_users) return NULL;
    turn_user_t k = {.name = (char *)name};
    return bsearch(&k, p->users, p->n_users, sizeof *p->users, user_cmp);
}

turn_secrets_t *turn_secrets_new(char *const *a, const int64_t *ea, size_t na, char *const *b,
                                 const int64_t *eb, size_t nb) {
    turn_secrets_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    atomic_init(&s->refs, 1);
    s->secrets = calloc(TURN_SECRETS_MAX, sizeof *s->secrets);
    s->expires = calloc(TURN_SECRETS_MAX, sizeof *s->expires);
    if (!s->secrets || !s->expires) {
        free(s->secrets);
        free(s->expires);
        free(s);
        return NULL;
    }
    for (size_t list = 0; list < 2; list++) {
        char *const *src = list == 0 ? a : b;
        const int64_t *exp = list == 0 ? ea : eb;
        size_t n = list == 0 ? na : nb;
        for (size_t i = 0; i < n && s->n < TURN_SECRETS_MAX; i++) {
            if (!src[i] || !*src[i]) continue;
            bool dup = false;
            for (size_t j = 0; j < s->n; j++) dup = dup || strcmp(s->secrets[j], src[i]) == 0;
            if (dup) continue;
            if (!(s->secrets[s->n] = strdup(src[i]))) { turn_secrets_unref(s); return NULL; }
            s->expires[s->n] = exp ? exp[i] : 0;
            s->n++;
        }
    }
    return s;
}

turn_secrets_t *turn_secrets_ref(turn_secrets_t *s) {
    if (s) atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    return s;
}

void turn_secrets_unref(turn_secrets_t *s) {
    if (!s || atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1) return;
    for (size_t i = 0; i < s->n; i++) free(s->secrets[i]);
    free(s->secrets);
    free(s->expires);
    free(s);
}
