"""Pure computer vision for DeepLens: numpy arrays in, dataclasses out.

Nothing here knows about storage, databases or events. Every function that rejects
its input raises :class:`deeplens.errors.BadInput` with a short machine ``reason``.

Modules, one job each:

- :mod:`.images`: decode/encode still images (sniffing, truncation, EXIF, alpha).
- :mod:`.containers`: which video containers are opened, decided by magic bytes.
- :mod:`.video`: open a video (header checks before decoding) and read single frames (:class:`~.video.FrameReader`).
- :mod:`.decoder`: one PyAV decoder over a video's first stream, from the start or after a seek.
- :mod:`.keyframes`: pick keyframes while decoding a video once, sequentially.
- :mod:`.local_features`: SIFT (RootSIFT) / ORB keypoints and their compact bytes form.
- :mod:`.verify`: match two feature sets and verify them with a sane homography.
- :mod:`.appearance`: photometric agreement of a frame with a product photo aligned on it.
- :mod:`.evidence`: the side-by-side evidence picture of a verified match.
"""
