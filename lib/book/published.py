"""Reference numbers that chapters and tests compare against, each with where it comes from.

Two kinds of entries, kept apart by name:

* ``PUBLISHED_*``: numbers printed in a paper; the comment names the paper and the place in it.
* ``DERIVED_*``: numbers that no paper prints but that follow from a published formula; the comment names the
  formula and who evaluated it. A test must not take them on trust: it recomputes them independently (a
  root-finder on the closed form, a quadrature) and checks the digits stored here against that.

No value here is computed by the library whose output it is used to check.
"""

from __future__ import annotations

# --- paper 1: the null space in its published batch spectra ---------------------------------------------------------
# Baskerville, Granziol & Keating (2022), arXiv:2102.06740, "Appearance of random matrix theory in deep learning".

#: Proportion of batch-Hessian eigenvalues with |lambda| < 1e-10, read off paper 1's figure of the proportion of
#: eigenvalues below a cut-off (its float32 spectra; E4 is not shown there), to the two digits the plot allows.
PUBLISHED_PROPORTION_BELOW_1E10 = {"E1": 0.95, "E2": 0.88, "E3": 0.0, "E5": 0.44, "E6": 0.30, "E7": 0.34, "E8": 0.64}


# --- spherical p-spin glass: thresholds of the layered critical values ------------------------------------------
# Auffinger, Ben Arous & Cerny (2013), "Random matrices and complexity of spin glasses", Comm. Pure Appl. Math. 66,
# 165-201 (arXiv:1003.1129), "ABC" below. Energies are per spin and positive: the critical value is -E.

#: p = 3: E_0(3) ~ 1.657, the zero -E_0 of the complexity of local minima that ABC quote for p = 3, which is also
#: the ground-state energy of the 3-spin model (Crisanti & Sommers 1992, Z. Phys. B 87, 341); and E_inf(3) ~ 1.633,
#: ABC's closed form E_inf = 2 sqrt((p - 1) / p) at p = 3, rounded as they print it.
PUBLISHED_PSPIN_P3 = {"E_0": 1.657, "E_inf": 1.633}

#: DERIVED, not published: p -> (E_inf, E_0, E_1, ..., E_5), the zeros -E_k of ABC's closed-form complexity
#: Theta_{k,p}(u) = log(p - 1) / 2 - (p - 2) / (4 (p - 1)) u^2 - (k + 1) I_1(u) (ABC Theorem 2.5) and
#: E_inf = 2 sqrt((p - 1) / p), evaluated to 4 decimals by our research notes (paper2.md section 4.1).
DERIVED_PSPIN_THRESHOLDS = {
    3: (1.6330, 1.6570, 1.6529, 1.6503, 1.6484, 1.6470, 1.6459),
    4: (1.7321, 1.7941, 1.7833, 1.7765, 1.7717, 1.7680, 1.7652),
    5: (1.7889, 1.8880, 1.8706, 1.8596, 1.8519, 1.8461, 1.8415),
    10: (1.8974, 2.1354, 2.0921, 2.0652, 2.0464, 2.0323, 2.0213),
}

#: DERIVED, not published: w -> E at which the total complexity of the p = 3 model vanishes when the Hessian's
#: semicircle (GOE units, unchanged radius sqrt 2) is replaced by (1 - w) semicircle + w delta_0, i.e. the zero
#: of sup_{v <= u} [log(p - 1) / 2 + (1 + log 2) / 2 + Omega_rho(c_p v) - v^2 / 2] with
#: Omega_rho = (1 - w) Omega_sc + w log|t| and c_p = sqrt(p / (2 (p - 1))) (ABC's Kac-Rice formula with the
#: density changed), evaluated to 4 decimals by our research notes (paper2.md section 4.2).
DERIVED_PSPIN_ATOM_ZEROS_P3 = {0.1: 1.6823, 0.3: 1.7212, 0.5: 1.7523}
