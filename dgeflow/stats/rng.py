"""R's default random number stream (Mersenne-Twister, inversion normals), for the one place
DESeq2 draws random numbers in its statistics: the dispersion prior variance of designs with
1-3 residual degrees of freedom (``set.seed(2)`` then ``rchisq`` and ``rnorm``).

Reproducing R's stream there makes dgeflow's prior variance, and so its dispersions and
p-values, equal to DESeq2's instead of merely close. Algorithms follow R's nmath sources as
documented (Matsumoto & Nishimura 1998; Ahrens & Dieter 1972, 1974, 1982; Wichura 1988).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtri

_TWO32_INV = 2.3283064365386963e-10
_BIG = 134217728.0  # 2**27: R combines two uniforms for a normal by inversion
_EXP_Q = np.cumsum([math.log(2) ** k / math.factorial(k) for k in range(1, 17)])
_EXP_Q[-1] = 1.0


class RStream:
    """Uniforms, normals, exponentials and gammas in exactly R's order for a given seed."""

    def __init__(self, seed: int):
        seed &= 0xFFFFFFFF
        for _ in range(50):  # R's initial scrambling of the user seed
            seed = (69069 * seed + 1) & 0xFFFFFFFF
        state = np.empty(625, dtype=np.uint64)
        for j in range(625):
            seed = (69069 * seed + 1) & 0xFFFFFFFF
            state[j] = seed
        bitgen = np.random.MT19937()
        # the first seed word is R's position counter, reset to 624 (regenerate on first use)
        bitgen.state = {
            "bit_generator": "MT19937",
            "state": {"key": state[1:].astype(np.uint32), "pos": 624},
        }
        self._bitgen = bitgen
        self._buffer = np.empty(0)
        self._pos = 0

    def _fill(self, n: int) -> None:
        raw = self._bitgen.random_raw(max(n, 1 << 16)).astype(np.float64) * _TWO32_INV
        # R's fixup keeps uniforms strictly inside (0, 1)
        raw[raw <= 0.0] = 0.5 * _TWO32_INV
        raw[1.0 - raw <= 0.0] = 1.0 - 0.5 * _TWO32_INV
        self._buffer = np.concatenate([self._buffer[self._pos :], raw])
        self._pos = 0

    def uniforms(self, n: int) -> np.ndarray:
        if self._pos + n > self._buffer.size:
            self._fill(n)
        out = self._buffer[self._pos : self._pos + n]
        self._pos += n
        return out

    def unif(self) -> float:
        if self._pos >= self._buffer.size:
            self._fill(1)
        u = self._buffer[self._pos]
        self._pos += 1
        return float(u)

    def normals(self, n: int, mean: float = 0.0, sd: float = 1.0) -> np.ndarray:
        """``rnorm(n, mean, sd)``; like R, draws nothing when ``sd == 0``."""
        if sd == 0:
            return np.full(n, mean)
        u = self.uniforms(2 * n).reshape(n, 2)
        return mean + sd * ndtri((np.floor(_BIG * u[:, 0]) + u[:, 1]) / _BIG)

    def norm(self) -> float:
        u = self.unif()
        u = math.floor(_BIG * u) + self.unif()
        return float(ndtri(u / _BIG))

    def exp(self) -> float:
        """Standard exponential (Ahrens & Dieter 1972, algorithm SA)."""
        q = _EXP_Q
        a = 0.0
        u = self.unif()
        while True:
            u += u
            if u > 1.0:
                break
            a += q[0]
        u -= 1.0
        if u <= q[0]:
            return a + u
        i = 0
        ustar = self.unif()
        umin = ustar
        while True:
            ustar = self.unif()
            umin = min(umin, ustar)
            i += 1
            if u <= q[i]:
                break
        return a + umin * q[0]

    def gamma(self, a: float, scale: float = 1.0) -> float:
        """One gamma deviate (GS algorithm for a < 1, GD for a >= 1), as R's ``rgamma``."""
        if a < 1.0:
            e = 1.0 + 0.36787944117144233 * a
            while True:
                p = e * self.unif()
                if p >= 1.0:
                    x = -math.log((e - p) / a)
                    if self.exp() >= (1.0 - a) * math.log(x):
                        return scale * x
                else:
                    x = math.exp(math.log(p) / a)
                    if self.exp() >= x:
                        return scale * x
        s2 = a - 0.5
        s = math.sqrt(s2)
        d = 5.656854 - s * 12.0
        t = self.norm()
        x = s + 0.5 * t
        if t >= 0.0:
            return scale * x * x
        u = self.unif()
        if d * u <= t * t * t:
            return scale * x * x
        r = 1.0 / a
        q0 = (
            (
                ((((2.424e-4 * r + 2.4511e-4) * r - 7.388e-5) * r + 0.00144121) * r + 0.00801191)
                * r
                + 0.02083148
            )
            * r
            + 0.04166669
        ) * r
        if a <= 3.686:
            b, si, c = 0.463 + s + 0.178 * s2, 1.235, 0.195 / s - 0.079 + 0.16 * s
        elif a <= 13.022:
            b, si, c = 1.654 + 0.0076 * s2, 1.68 / s + 0.275, 0.062 / s + 0.024
        else:
            b, si, c = 1.77, 0.75, 0.1515 / s
        if x > 0.0:
            q = _gd_quotient(t, s, s2, q0)
            if math.log(1.0 - u) <= q:
                return scale * x * x
        while True:
            e = self.exp()
            u = self.unif()
            u = u + u - 1.0
            t = b - si * e if u < 0.0 else b + si * e
            if t >= -0.71874483771719:
                q = _gd_quotient(t, s, s2, q0)
                if q > 0.0 and c * abs(u) <= math.expm1(q) * math.exp(e - 0.5 * t * t):
                    break
        x = s + 0.5 * t
        return scale * x * x

    def chisq(self, n: int, df: float) -> np.ndarray:
        """``rchisq(n, df)``."""
        return np.array([self.gamma(df / 2.0, 2.0) for _ in range(n)])


def _gd_quotient(t: float, s: float, s2: float, q0: float) -> float:
    v = t / (s + s)
    if abs(v) <= 0.25:
        poly = (
            (
                ((((0.1233795 * v - 0.1367177) * v + 0.1423657) * v - 0.1662921) * v + 0.2000062)
                * v
                - 0.250003
            )
            * v
            + 0.3333333
        ) * v
        return q0 + 0.5 * t * t * poly
    return q0 - s * t + 0.25 * t * t + (s2 + s2) * math.log(1.0 + v)
