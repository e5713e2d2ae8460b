"""Reading media: sniffing (`media_kind`), images (`load_image`), videos (`probe_video`, `iter_chunks`) and
native-resolution patch sampling (`fragments`, `tile`).

Every input problem is raised as `vqual.errors.MediaError` with a one-line "<path>: <problem>" message and a
machine-readable ``reason``. Design notes live in the docstrings of `image`, `video` and `sampling`.
"""

from vqual.media.image import load_image
from vqual.media.kind import DEFAULT_MAX_PIXELS, IMAGE_EXTS, VIDEO_EXTS, media_kind
from vqual.media.sampling import Fragments, fragments, tile
from vqual.media.video import Chunk, Frame, VideoInfo, iter_chunks, iter_frames, probe_video

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "IMAGE_EXTS",
    "VIDEO_EXTS",
    "Chunk",
    "Frame",
    "Fragments",
    "VideoInfo",
    "fragments",
    "iter_chunks",
    "iter_frames",
    "load_image",
    "media_kind",
    "probe_video",
    "tile",
]
