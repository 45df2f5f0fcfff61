/* wt_password: password hashes as the product stores them: yescrypt
 * ("$y$...", libcrypt) with a fresh salt. Made by wt-admin (only the hash
 * travels in user.create), checked by the gateway at login. */
#ifndef WT_PASSWORD_H
#define WT_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

/* Hashes password into out (NUL-terminated). 0, or -1 when libcrypt
 * fails or out is too small. */
int wt_password_hash(const char *password, char *out, size_t out_size);

/* Does password match the stored crypt(3) hash? */
bool wt_password_matches(const char *password, const char *hash);

#endif
