"""Pure computer vision for DeepLens: numpy arrays in, dataclasses out.

Nothing here knows about storage, databases or events. Every function that rejects
its input raises :class:`deeplens.errors.BadInput` with a short machine ``reason``.

Modules, one job each:

- :mod:`.images`: decode/encode still images (sniffing, truncation, EXIF, alpha).
- :mod:`.video`: probe a video file and read single frames.
- :mod:`.keyframes`: pick keyframes while decoding a video once, sequentially.
- :mod:`.local_features`: SIFT (RootSIFT) / ORB keypoints and their compact bytes form.
- :mod:`.verify`: match two feature sets and verify them with a sane homography.
- :mod:`.evidence`: the side-by-side evidence picture of a verified match.
- :mod:`.synthetic`: procedural packaging/scene/video generators for tests and benches.
"""
