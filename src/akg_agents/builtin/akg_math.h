// Vectorizable float math for generated kernels.
// libm's expf/erff/tanhf are scalar calls that stop g++ from vectorizing a loop (glibc's vector
// variants are only declared under -ffast-math, which would also break NaN handling). These are
// branch-free, so `#pragma omp simd` loops stay vectorized. Accuracy: ~2 ulp for exp, 1.5e-7
// absolute for erf (Abramowitz & Stegun 7.1.26): well inside the verifier's 1e-4 tolerance.

static inline float akg_exp(float x) {
    // exp(x) = 2^n * exp(r), n = round(x / ln2), |r| <= ln2 / 2 (Cephes expf polynomial).
    const float hi = 88.72283905206835f, lo = -87.33654475055310f;
    float c = x > hi ? hi : x;
    c = c < lo ? lo : c;  // NaN fails both comparisons and stays NaN
    // Round to nearest with the 1.5 * 2^23 trick: floorf() stops g++ from vectorizing a loop
    // that also stores (it does vectorize reductions with it; not worth relying on).
    float n = (c * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = c - n * 0.693359375f + n * 2.12194440e-4f;
    float r2 = r * r;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float y = p * r2 + r + 1.0f;
    int ni = (int)n;
    ni = ni > 127 ? 127 : ni;
    int bits = (ni + 127) << 23;
    y = y * __builtin_bit_cast(float, bits);  // 2^n built in the exponent field
    y = x > hi ? __builtin_inff() : y;
    return x < lo ? 0.0f : y;
}

static inline float akg_sigmoid(float x) { return 1.0f / (1.0f + akg_exp(-x)); }

static inline float akg_tanh(float x) {
    // 1 - 2 / (e^{2x} + 1): exact limits at +-inf; for tiny |x| use x (avoids cancellation).
    float t = 1.0f - 2.0f / (akg_exp(2.0f * x) + 1.0f);
    return __builtin_fabsf(x) < 1e-3f ? x - x * x * x * (1.0f / 3.0f) : t;
}

static inline float akg_erf(float x) {
    float a = __builtin_fabsf(x);
    float t = 1.0f / (1.0f + 0.3275911f * a);
    float p = 1.061405429f;
    p = p * t - 1.453152027f;
    p = p * t + 1.421413741f;
    p = p * t - 0.284496736f;
    p = p * t + 0.254829592f;
    float y = 1.0f - p * t * akg_exp(-a * a);
    return x < 0.0f ? -y : y;
}

static inline float akg_gelu(float x) { return 0.5f * x * (1.0f + akg_erf(x * 0.70710678118654752f)); }

static inline float akg_gelu_tanh(float x) {
    float inner = 0.7978845608028654f * (x + 0.044715f * x * x * x);
    return 0.5f * x * (1.0f + akg_tanh(inner));
}

static inline float akg_hardswish(float x) {
    float r = x + 3.0f;
    r = r < 0.0f ? 0.0f : (r > 6.0f ? 6.0f : r);
    return x * r * (1.0f / 6.0f);
}

static inline float akg_softplus(float x) {
    // torch's default threshold 20: linear above it.
    return x > 20.0f ? x : __builtin_logf(1.0f + akg_exp(x));
}
