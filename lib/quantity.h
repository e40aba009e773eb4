/*
 * quantity — Kubernetes resource quantities ("2", "500m", "8Gi", "1.5e9"),
 * as spec.resources and the operator's KLANGK_DEFAULT_* and KLANGK_MAX_*
 * settings write them.
 *
 * The language is the one of Kubernetes' resource.ParseQuantity:
 *
 *   [+-] digits [. digits] [suffix]      (at least one digit; "5." and ".5" too)
 *   suffix: Ki Mi Gi Ti Pi Ei            (powers of 1024)
 *           n u m "" k M G T P E         (powers of 1000, from 10^-9)
 *           e<int> or E<int>             (a power of ten; "E" alone is exa)
 *
 * The value is returned as an integer count of a unit chosen by the caller
 * (bytes, nano-CPUs), rounded up away from zero as Quantity.ScaledValue
 * does, so that "0.5n" CPU is 1 nano-CPU and never 0.  Arithmetic is exact
 * (no floating point): what does not fit in int64_t is -ERANGE.
 */
#ifndef KLANGK_QUANTITY_H
#define KLANGK_QUANTITY_H

#include <stddef.h>
#include <stdint.h>

/* The longest quantity accepted (also the CRD's maxLength). */
#define QUANTITY_MAX_LEN 64

/* Units for quantity_parse's scale: the value times 10^scale. */
#define QUANTITY_SCALE_UNIT 0   /* bytes, pids */
#define QUANTITY_SCALE_NANO 9   /* nano-CPUs (Docker's NanoCpus) */

/*
 * Parse s into its value times 10^scale (0 <= scale <= 18), rounded up away
 * from zero.  -EINVAL when s is no quantity (or longer than
 * QUANTITY_MAX_LEN), -ERANGE when the result does not fit in int64_t.
 * *out is written only on success.
 */
int quantity_parse(const char *s, int scale, int64_t *out);

/*
 * Write v (a count of 10^-scale units; scale 0, 3, 6 or 9)
 * in its shortest exact form: with scale 0 the largest binary suffix that
 * divides it ("8Gi", "1536Mi", else plain "1000"); otherwise the largest
 * decimal unit that divides it ("2", "500m", "1500u" for scale 9).
 * -ENAMETOOLONG if buf is too small, -EINVAL for another scale.
 */
int quantity_format(int64_t v, int scale, char *buf, size_t len);

#endif
