"""SIFT on a torch device (a GPU), computed as OpenCV computes it.

The catalog's descriptors come from OpenCV's SIFT on the CPU, and a frame's descriptors
must match them, so this is not "a SIFT" but OpenCV's: the same doubled base image,
scale space, extremum test, sub-pixel refinement, orientation histogram and 4×4×8
descriptor, with the same constants and the same rounding of the descriptor to bytes.
What differs is float arithmetic (OpenCV's ``fastAtan2`` against ``atan2``, summation
order), so a few keypoints near a threshold come or go and descriptors differ in their
last step; ``tests/unit/test_torch_sift.py`` pins how close the two stay.

Every step works on all keypoints of all octaves at once (gathers from one flat buffer of
the pyramid), so a frame costs a few hundred kernel launches whatever its keypoint count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

import numpy as np
import torch
import torch.nn.functional as F

N_OCTAVE_LAYERS = 3
CONTRAST_THRESHOLD = 0.04
EDGE_THRESHOLD = 10.0
SIGMA = 1.6
INIT_SIGMA = 0.5
IMG_BORDER = 5
MAX_INTERP_STEPS = 5
ORI_HIST_BINS = 36
ORI_SIG_FCTR = 1.5
ORI_RADIUS = 3 * ORI_SIG_FCTR
ORI_PEAK_RATIO = 0.8
DESCR_WIDTH = 4
DESCR_HIST_BINS = 8
DESCR_SCL_FCTR = 3.0
DESCR_MAG_THR = 0.2
FLT_EPSILON = 1.1920929e-07
_LAYERS = N_OCTAVE_LAYERS + 3
# Keypoints per descriptor chunk: bounds the (chunk, window) sample tensors to ~100 MB.
_DESCRIPTOR_CHUNK = 512


@dataclass(frozen=True)
class Keypoints:
    """SIFT keypoints and raw descriptors, as OpenCV's ``detectAndCompute`` returns them."""

    points: np.ndarray
    """``(N, 2)`` float32 ``x, y`` in the input image's pixels."""
    responses: np.ndarray
    """``(N,)`` float32 detector responses (absolute interpolated contrast)."""
    descriptors: np.ndarray
    """``(N, 128)`` float32 holding OpenCV's byte values 0..255."""


def detect_and_compute(gray: np.ndarray, *, max_features: int, device: str | torch.device) -> Keypoints:
    """SIFT keypoints and descriptors of a ``uint8`` grayscale image, computed on ``device``.

    Equivalent to ``cv2.SIFT_create(nfeatures=max_features).detectAndCompute(gray, None)``;
    at most ``max_features`` keypoints are kept, the strongest by response.
    """
    if gray.ndim != 2 or gray.dtype != np.uint8:
        raise ValueError("detect_and_compute takes a 2-D uint8 image")
    with torch.inference_mode():
        image = torch.from_numpy(np.ascontiguousarray(gray)).to(device=device, dtype=torch.float32)
        pyramid = _Pyramid.build(image)
        kp = _refined_extrema(pyramid)
        kp = _oriented(pyramid, kp)
        if kp.count > max_features:
            kp = kp.take(torch.topk(kp.response, max_features, sorted=True).indices)
        desc = _descriptors(pyramid, kp)
        # Points are kept in the doubled base image's pixels until here; OpenCV halves them.
        x = (kp.c + kp.xc) * kp.octave_scale * 0.5
        y = (kp.r + kp.xr) * kp.octave_scale * 0.5
        return Keypoints(
            points=torch.stack([x, y], dim=1).float().cpu().numpy(),
            responses=kp.response.float().cpu().numpy(),
            descriptors=desc.cpu().numpy(),
        )


def _gaussian_kernel(sigma: float, device: torch.device) -> torch.Tensor:
    # OpenCV's getGaussianKernel size rule for float images: 2 * round(4 sigma) + 1.
    size = round(sigma * 4 * 2 + 1) | 1
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    kernel = torch.exp(-(x * x) / (2 * sigma * sigma))
    return (kernel / kernel.sum()).to(device=device)


def _reflect101(n: int, pad: int, device: torch.device) -> torch.Tensor:
    """Source indices of ``-pad .. n + pad - 1`` under OpenCV's BORDER_REFLECT_101."""
    index = torch.arange(-pad, n + pad, device=device)
    if n == 1:
        return torch.zeros_like(index)
    period = 2 * (n - 1)
    index = index.remainder(period)
    return torch.where(index >= n, period - index, index)


def _blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """OpenCV's ``GaussianBlur`` (BORDER_REFLECT_101), as two 1-D passes.

    The passes run in float64: cuDNN runs float32 convolutions in TF32 (10-bit mantissa) by
    default, and a difference of Gaussians loses those bits where keypoints are decided (on
    an H200, float32 passes left only 96% of OpenCV's keypoints in place). Rounded back to
    float32, the result is OpenCV's to its last bit or two.
    """
    kernel = _gaussian_kernel(sigma, image.device)
    pad = kernel.numel() // 2
    rows, cols = image.shape
    padded = image.double().index_select(1, _reflect101(cols, pad, image.device))
    out = F.conv2d(padded[None, None], kernel.view(1, 1, 1, -1))[0, 0]
    out = out.index_select(0, _reflect101(rows, pad, image.device))
    return F.conv2d(out[None, None], kernel.view(1, 1, -1, 1))[0, 0].float()


def _upsample2x(image: torch.Tensor) -> torch.Tensor:
    """OpenCV's default 2× upscale of the base image (``resize``, INTER_LINEAR, pixel centres)."""
    return F.interpolate(image[None, None], scale_factor=2, mode="bilinear", align_corners=False)[0, 0]


def _halved(image: torch.Tensor) -> torch.Tensor:
    """OpenCV's INTER_NEAREST resize to ``(rows // 2, cols // 2)``: every other pixel."""
    rows, cols = image.shape
    return image[: rows // 2 * 2 : 2, : cols // 2 * 2 : 2]


def _layer_sigmas() -> list[float]:
    k = 2.0 ** (1.0 / N_OCTAVE_LAYERS)
    sigmas = [SIGMA]
    for i in range(1, _LAYERS):
        prev = k ** (i - 1) * SIGMA
        sigmas.append(math.sqrt((prev * k) ** 2 - prev**2))
    return sigmas


@dataclass(frozen=True)
class _Pyramid:
    """Gaussian and DoG scale space, every octave in one flat buffer each, for gathers."""

    gauss: torch.Tensor
    """Flat: octave o's ``(_LAYERS, rows, cols)`` block starts at ``gauss_offset[o]``."""
    dog: torch.Tensor
    """Flat: octave o's ``(_LAYERS - 1, rows, cols)`` block starts at ``dog_offset[o]``."""
    gauss_offset: torch.Tensor
    dog_offset: torch.Tensor
    rows: torch.Tensor
    cols: torch.Tensor
    dog_octaves: list[torch.Tensor]

    @classmethod
    def build(cls, image: torch.Tensor) -> _Pyramid:
        sig_diff = math.sqrt(max(SIGMA**2 - 4 * INIT_SIGMA**2, 0.01))
        base = _blur(_upsample2x(image), sig_diff)
        octaves = round(math.log2(min(base.shape)) - 2) + 1
        sigmas = _layer_sigmas()
        gauss_octaves: list[torch.Tensor] = []
        for o in range(octaves):
            first = base if o == 0 else _halved(gauss_octaves[-1][N_OCTAVE_LAYERS])
            layers = [first]
            for sigma in sigmas[1:]:
                layers.append(_blur(layers[-1], sigma))
            gauss_octaves.append(torch.stack(layers))
        dog_octaves = [g[1:] - g[:-1] for g in gauss_octaves]
        device = image.device

        def offsets(blocks: list[torch.Tensor]) -> torch.Tensor:
            sizes = torch.tensor([0] + [b.numel() for b in blocks[:-1]], dtype=torch.long)
            return torch.cumsum(sizes, 0).to(device)

        return cls(
            gauss=torch.cat([g.reshape(-1) for g in gauss_octaves]),
            dog=torch.cat([d.reshape(-1) for d in dog_octaves]),
            gauss_offset=offsets(gauss_octaves),
            dog_offset=offsets(dog_octaves),
            rows=torch.tensor([g.shape[1] for g in gauss_octaves], dtype=torch.long, device=device),
            cols=torch.tensor([g.shape[2] for g in gauss_octaves], dtype=torch.long, device=device),
            dog_octaves=dog_octaves,
        )


@dataclass(frozen=True)
class _Candidates:
    """Keypoints being refined: integer location in octave ``o``, sub-pixel offsets, response."""

    o: torch.Tensor
    layer: torch.Tensor
    r: torch.Tensor
    c: torch.Tensor
    xc: torch.Tensor
    xr: torch.Tensor
    xi: torch.Tensor
    response: torch.Tensor
    angle: torch.Tensor

    @property
    def count(self) -> int:
        return int(self.o.numel())

    @property
    def octave_scale(self) -> torch.Tensor:
        return torch.pow(2.0, self.o.float())

    @property
    def scale(self) -> torch.Tensor:
        """The keypoint's sigma in its octave's pixels (OpenCV's ``size * 0.5 / 2**o``)."""
        return SIGMA * torch.pow(2.0, (self.layer.float() + self.xi) / N_OCTAVE_LAYERS)

    def take(self, index: torch.Tensor) -> _Candidates:
        return _Candidates(*(getattr(self, f.name)[index] for f in fields(self)))


def _extrema(pyramid: _Pyramid) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    threshold = math.floor(0.5 * CONTRAST_THRESHOLD / N_OCTAVE_LAYERS * 255)
    found: list[tuple[torch.Tensor, ...]] = []
    for o, dog in enumerate(pyramid.dog_octaves):
        rows, cols = dog.shape[1:]
        if rows <= 2 * IMG_BORDER or cols <= 2 * IMG_BORDER:
            continue
        stack = dog[None, None]
        peak = F.max_pool3d(stack, 3, stride=1)[0, 0]
        trough = -F.max_pool3d(-stack, 3, stride=1)[0, 0]
        centre = dog[1:-1, 1:-1, 1:-1]
        hit = ((centre > threshold) & (centre >= peak)) | ((centre < -threshold) & (centre <= trough))
        b = IMG_BORDER - 1  # centre is already one pixel in from each edge
        hit[:, :b, :] = False
        hit[:, rows - 2 - b :, :] = False
        hit[:, :, :b] = False
        hit[:, :, cols - 2 - b :] = False
        layer, r, c = torch.nonzero(hit, as_tuple=True)
        found.append((torch.full_like(layer, o), layer + 1, r + 1, c + 1))
    if not found:
        empty = torch.zeros(0, dtype=torch.long, device=pyramid.dog.device)
        return empty, empty, empty, empty
    return tuple(torch.cat(parts) for parts in zip(*found, strict=True))  # type: ignore[return-value]


def _local_fit(
    pyramid: _Pyramid, o: torch.Tensor, layer: torch.Tensor, r: torch.Tensor, c: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """DoG value, gradient ``(M, 3)`` and Hessian ``(M, 3, 3)`` over ``x, y, scale`` at each
    sample, by OpenCV's finite differences and scales (the image as 0..1)."""
    cols = pyramid.cols[o]
    start = pyramid.dog_offset[o] + layer * pyramid.rows[o] * cols + r * cols + c
    plane = pyramid.rows[o] * cols
    dog = pyramid.dog

    def at(dl: int, dr: int, dc: int) -> torch.Tensor:
        return dog[start + dl * plane + dr * cols + dc]

    img_scale = 1.0 / 255
    deriv, second, cross = img_scale * 0.5, img_scale, img_scale * 0.25
    v = at(0, 0, 0)
    grad = torch.stack(
        [(at(0, 0, 1) - at(0, 0, -1)) * deriv, (at(0, 1, 0) - at(0, -1, 0)) * deriv, (at(1, 0, 0) - at(-1, 0, 0)) * deriv],
        dim=1,
    )
    hxx = (at(0, 0, 1) + at(0, 0, -1) - 2 * v) * second
    hyy = (at(0, 1, 0) + at(0, -1, 0) - 2 * v) * second
    hss = (at(1, 0, 0) + at(-1, 0, 0) - 2 * v) * second
    hxy = (at(0, 1, 1) - at(0, 1, -1) - at(0, -1, 1) + at(0, -1, -1)) * cross
    hxs = (at(1, 0, 1) - at(1, 0, -1) - at(-1, 0, 1) + at(-1, 0, -1)) * cross
    hys = (at(1, 1, 0) - at(1, -1, 0) - at(-1, 1, 0) + at(-1, -1, 0)) * cross
    hessian = torch.stack(
        [torch.stack([hxx, hxy, hxs], 1), torch.stack([hxy, hyy, hys], 1), torch.stack([hxs, hys, hss], 1)], dim=1
    )
    return v * img_scale, grad, hessian


def _refined_extrema(pyramid: _Pyramid) -> _Candidates:
    """OpenCV's ``adjustLocalExtrema`` on every candidate at once: up to five Newton steps
    to the sub-pixel extremum, then the contrast and edge tests."""
    o, layer, r, c = _extrema(pyramid)
    rows, cols = pyramid.rows[o], pyramid.cols[o]
    active = torch.ones_like(o, dtype=torch.bool)
    converged = torch.zeros_like(active)
    offset = torch.zeros((o.numel(), 3), dtype=torch.float32, device=o.device)
    contrast = torch.zeros(o.numel(), dtype=torch.float32, device=o.device)
    curvature = torch.zeros((o.numel(), 3), dtype=torch.float32, device=o.device)
    for _ in range(MAX_INTERP_STEPS):
        todo = torch.nonzero(active & ~converged).squeeze(1)
        if todo.numel() == 0:
            break
        value, grad, hessian = _local_fit(pyramid, o[todo], layer[todo], r[todo], c[todo])
        solution, info = torch.linalg.solve_ex(hessian, grad)
        # OpenCV's LU solve leaves a singular system's solution at zero.
        step = torch.where((info == 0)[:, None], -solution, torch.zeros_like(solution))
        step = torch.nan_to_num(step, nan=0.0, posinf=1e30, neginf=-1e30)
        done = step.abs().amax(dim=1) < 0.5
        # Where the step is small the keypoint is final: keep its offsets and curvature.
        final = todo[done]
        offset[final] = step[done]
        contrast[final] = value[done] + 0.5 * (grad[done] * step[done]).sum(dim=1)
        curvature[final] = torch.stack([hessian[done, 0, 0], hessian[done, 1, 1], hessian[done, 0, 1]], dim=1)
        converged[final] = True

        move, step = todo[~done], step[~done]
        too_far = step.abs().amax(dim=1) > float(np.iinfo(np.int32).max // 3)
        active[move[too_far]] = False
        move, step = move[~too_far], step[~too_far]
        c[move] += torch.round(step[:, 0]).long()
        r[move] += torch.round(step[:, 1]).long()
        layer[move] += torch.round(step[:, 2]).long()
        outside = (
            (layer[move] < 1)
            | (layer[move] > N_OCTAVE_LAYERS)
            | (c[move] < IMG_BORDER)
            | (c[move] >= cols[move] - IMG_BORDER)
            | (r[move] < IMG_BORDER)
            | (r[move] >= rows[move] - IMG_BORDER)
        )
        active[move[outside]] = False

    dxx, dyy, dxy = curvature.unbind(1)
    trace, det = dxx + dyy, dxx * dyy - dxy * dxy
    keep = (
        converged
        & (contrast.abs() * N_OCTAVE_LAYERS >= CONTRAST_THRESHOLD)
        & (det > 0)
        & (trace * trace * EDGE_THRESHOLD < (EDGE_THRESHOLD + 1) ** 2 * det)
    )
    i = torch.nonzero(keep).squeeze(1)
    xc, xr, xi = offset[i].unbind(1)
    kp = _Candidates(o[i], layer[i], r[i], c[i], xc, xr, xi, contrast[i].abs(), torch.zeros_like(xc))
    # Candidates that converged to the same sample are one keypoint (OpenCV's removeDuplicated).
    key = ((kp.o * (N_OCTAVE_LAYERS + 2) + kp.layer) * pyramid.rows.max() + kp.r) * pyramid.cols.max() + kp.c
    return kp.take(_first_of_each(key))


def _first_of_each(key: torch.Tensor) -> torch.Tensor:
    """Index of the first occurrence of each distinct key."""
    unique, inverse = torch.unique(key, return_inverse=True)
    first = torch.full(unique.shape, key.numel(), dtype=torch.long, device=key.device)
    return first.scatter_reduce_(0, inverse, torch.arange(key.numel(), device=key.device), reduce="amin")


def _window(radius: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    offsets = torch.arange(-radius, radius + 1, device=device)
    i, j = torch.meshgrid(offsets, offsets, indexing="ij")
    return i.reshape(-1), j.reshape(-1)


def _gradients(pyramid: _Pyramid, kp: _Candidates, i: torch.Tensor, j: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """``dx, dy`` (OpenCV's sign: y up) around each keypoint's integer location in its
    Gaussian layer, at window offsets ``i`` (rows) and ``j`` (cols), and where they are defined."""
    rows, cols = pyramid.rows[kp.o][:, None], pyramid.cols[kp.o][:, None]
    y = kp.r[:, None] + i
    x = kp.c[:, None] + j
    inside = (y > 0) & (y < rows - 1) & (x > 0) & (x < cols - 1)
    y = torch.where(inside, y, 1)
    x = torch.where(inside, x, 1)
    start = (pyramid.gauss_offset[kp.o] + kp.layer * pyramid.rows[kp.o] * pyramid.cols[kp.o])[:, None]
    g = pyramid.gauss
    centre = start + y * cols + x
    dx = g[centre + 1] - g[centre - 1]
    dy = g[centre - cols] - g[centre + cols]
    return dx, dy, inside


def _oriented(pyramid: _Pyramid, kp: _Candidates) -> _Candidates:
    """OpenCV's ``calcOrientationHist``: each keypoint once per dominant gradient direction."""
    if kp.count == 0:
        return kp
    n = ORI_HIST_BINS
    scale = kp.scale
    radius = torch.round(ORI_RADIUS * scale).long()
    sigma = ORI_SIG_FCTR * scale
    i, j = _window(int(radius.max()), scale.device)
    dx, dy, inside = _gradients(pyramid, kp, i, j)
    within = inside & (i.abs()[None] <= radius[:, None]) & (j.abs()[None] <= radius[:, None])
    weight = torch.exp(-(i * i + j * j)[None].float() / (2 * sigma * sigma)[:, None])
    magnitude = torch.sqrt(dx * dx + dy * dy)
    degrees = torch.rad2deg(torch.atan2(dy, dx)).remainder(360.0)
    bins = torch.round(degrees * (n / 360.0)).long().remainder(n)
    hist = torch.zeros(kp.count, n, device=scale.device)
    hist.scatter_add_(1, bins, torch.where(within, weight * magnitude, 0.0))
    smooth = (
        (hist.roll(2, 1) + hist.roll(-2, 1)) * (1.0 / 16)
        + (hist.roll(1, 1) + hist.roll(-1, 1)) * (4.0 / 16)
        + hist * (6.0 / 16)
    )
    left, right = smooth.roll(1, 1), smooth.roll(-1, 1)
    peak = (smooth > left) & (smooth > right) & (smooth >= smooth.amax(1, keepdim=True) * ORI_PEAK_RATIO)
    which, at = torch.nonzero(peak, as_tuple=True)
    l, h, rr = left[which, at], smooth[which, at], right[which, at]
    bin_ = at.float() + 0.5 * (l - rr) / (l - 2 * h + rr)
    bin_ = torch.where(bin_ < 0, bin_ + n, torch.where(bin_ >= n, bin_ - n, bin_))
    angle = 360.0 - (360.0 / n) * bin_
    angle = torch.where((angle - 360.0).abs() < FLT_EPSILON, 0.0, angle)
    return replace(kp.take(which), angle=angle)


def _descriptors(pyramid: _Pyramid, kp: _Candidates) -> torch.Tensor:
    """OpenCV's ``calcSIFTDescriptor``, in chunks of keypoints of similar window size."""
    d, n = DESCR_WIDTH, DESCR_HIST_BINS
    out = torch.zeros(kp.count, d * d * n, device=pyramid.gauss.device)
    if kp.count == 0:
        return out
    hist_width = DESCR_SCL_FCTR * kp.scale
    radius = torch.round(hist_width * math.sqrt(2.0) * (d + 1) * 0.5).long()
    diagonal = torch.sqrt((pyramid.rows[kp.o] ** 2 + pyramid.cols[kp.o] ** 2).double()).long()
    radius = torch.minimum(radius, diagonal)
    order = torch.argsort(radius)
    for chunk in order.split(_DESCRIPTOR_CHUNK):
        out[chunk] = _descriptor_chunk(pyramid, kp.take(chunk), int(radius[chunk].max()), hist_width[chunk])
    return out


def _descriptor_chunk(pyramid: _Pyramid, kp: _Candidates, radius: int, hist_width: torch.Tensor) -> torch.Tensor:
    d, n = DESCR_WIDTH, DESCR_HIST_BINS
    # The descriptor's angle is the keypoint's, back in OpenCV's y-up convention.
    ori = 360.0 - kp.angle
    ori = torch.where((ori - 360.0).abs() < FLT_EPSILON, 0.0, ori)
    cos_t = (torch.cos(torch.deg2rad(ori)) / hist_width)[:, None]
    sin_t = (torch.sin(torch.deg2rad(ori)) / hist_width)[:, None]
    # Descriptors sample at the rounded sub-pixel location, not the refined integer one.
    located = replace(kp, r=torch.round(kp.r + kp.xr).long(), c=torch.round(kp.c + kp.xc).long())
    i, j = _window(radius, cos_t.device)
    i_f, j_f = i[None].float(), j[None].float()
    c_rot = j_f * cos_t - i_f * sin_t
    r_rot = j_f * sin_t + i_f * cos_t
    rbin = r_rot + d / 2 - 0.5
    cbin = c_rot + d / 2 - 0.5
    dx, dy, inside = _gradients(pyramid, located, i, j)
    valid = inside & (rbin > -1) & (rbin < d) & (cbin > -1) & (cbin < d)
    weight = torch.exp((c_rot * c_rot + r_rot * r_rot) * (-1.0 / (d * d * 0.5)))
    magnitude = torch.where(valid, torch.sqrt(dx * dx + dy * dy) * weight, 0.0)
    obin = (torch.rad2deg(torch.atan2(dy, dx)).remainder(360.0) - ori[:, None]) * (n / 360.0)
    r0, c0, o0 = torch.floor(rbin), torch.floor(cbin), torch.floor(obin)
    fr, fc, fo = rbin - r0, cbin - c0, obin - o0
    o0 = o0.long().remainder(n)
    r0 = torch.where(valid, r0.long(), 0)
    c0 = torch.where(valid, c0.long(), 0)

    # Trilinear votes into a (d+2, d+2, n) histogram; the extra border rows and columns
    # take votes that fall off the 4×4 grid and are dropped below.
    hist = torch.zeros(kp.count, (d + 2) * (d + 2) * n, device=cos_t.device)
    for dr, wr in ((0, 1 - fr), (1, fr)):
        for dc, wc in ((0, 1 - fc), (1, fc)):
            for do, wo in ((0, 1 - fo), (1, fo)):
                index = ((r0 + 1 + dr) * (d + 2) + (c0 + 1 + dc)) * n + (o0 + do).remainder(n)
                hist.scatter_add_(1, index, magnitude * wr * wc * wo)
    hist = hist.view(kp.count, d + 2, d + 2, n)[:, 1 : d + 1, 1 : d + 1, :].reshape(kp.count, -1)

    norm = torch.linalg.vector_norm(hist, dim=1, keepdim=True)
    hist = torch.minimum(hist, norm * DESCR_MAG_THR)
    norm = torch.linalg.vector_norm(hist, dim=1, keepdim=True)
    return torch.clamp(torch.round(hist * (512.0 / torch.clamp(norm, min=FLT_EPSILON))), 0, 255)
