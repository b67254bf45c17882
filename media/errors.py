"""Stable error codes of media (images): Chinese messages, one code per client mistake."""

from __future__ import annotations

from core.errors import DomainError, ErrorCode, NotFound, PermissionDenied


class MediaCode(ErrorCode):
    """Error codes of media: the value is what clients switch on."""

    MEDIA_FILE_REQUIRED = "MEDIA_FILE_REQUIRED", "请以 multipart/form-data 上传图片文件（GraphQL 多部分请求规范）"
    MEDIA_EMPTY = "MEDIA_EMPTY", "文件为空"
    MEDIA_TOO_LARGE = "MEDIA_TOO_LARGE", "图片不能超过…MB"
    MEDIA_TYPE_UNSUPPORTED = "MEDIA_TYPE_UNSUPPORTED", "仅支持 JPEG、PNG、WebP、GIF 图片（按文件内容识别，不看扩展名）"
    MEDIA_TYPE_MISMATCH = "MEDIA_TYPE_MISMATCH", "文件名或声明的类型与图片的实际格式不符"
    MEDIA_TOO_MANY_PIXELS = "MEDIA_TOO_MANY_PIXELS", "图片尺寸过大（最多…万像素）"
    MEDIA_DAMAGED = "MEDIA_DAMAGED", "图片已损坏，无法读取"
    MEDIA_GROUP_REQUIRED = "MEDIA_GROUP_REQUIRED", "帖子图片需指定所在社群"
    MEDIA_GROUP_NOT_ALLOWED = "MEDIA_GROUP_NOT_ALLOWED", "头像不属于任何社群，请勿指定社群"
    IMAGE_NOT_FOUND = "IMAGE_NOT_FOUND", "图片不存在"
    IMAGE_REJECTED = "IMAGE_REJECTED", "图片未通过审核，不能使用"
    IMAGE_IN_USE = "IMAGE_IN_USE", "图片已用于其他帖子"
    IMAGE_WRONG_GROUP = "IMAGE_WRONG_GROUP", "图片上传到了其他社群，请在本群重新上传"
    IMAGE_WRONG_PURPOSE = "IMAGE_WRONG_PURPOSE", "该图片不是帖子图片（如头像），不能附在帖子里"
    MEDIA_URL_INVALID = "MEDIA_URL_INVALID", "图片链接无效"
    MEDIA_URL_EXPIRED = "MEDIA_URL_EXPIRED", "图片链接已过期，请刷新页面"
    MEDIA_WRONG_VIEWER = "MEDIA_WRONG_VIEWER", "该图片链接签发给了其他用户"


class FileRequired(DomainError):
    code = MediaCode.MEDIA_FILE_REQUIRED
    default_message = "请以 multipart/form-data 上传图片文件"


class EmptyFile(DomainError):
    code = MediaCode.MEDIA_EMPTY
    default_message = "文件为空"


class TooLarge(DomainError):
    code = MediaCode.MEDIA_TOO_LARGE
    default_message = "图片过大"


class TypeUnsupported(DomainError):
    code = MediaCode.MEDIA_TYPE_UNSUPPORTED
    default_message = "仅支持 JPEG、PNG、WebP、GIF 图片"


class TypeMismatch(DomainError):
    code = MediaCode.MEDIA_TYPE_MISMATCH
    default_message = "文件名或声明的类型与图片的实际格式不符"


class TooManyPixels(DomainError):
    code = MediaCode.MEDIA_TOO_MANY_PIXELS
    default_message = "图片尺寸过大"


class Damaged(DomainError):
    code = MediaCode.MEDIA_DAMAGED
    default_message = "图片已损坏，无法读取"


class GroupRequired(DomainError):
    code = MediaCode.MEDIA_GROUP_REQUIRED
    default_message = "帖子图片需指定所在社群"


class GroupNotAllowed(DomainError):
    code = MediaCode.MEDIA_GROUP_NOT_ALLOWED
    default_message = "头像不属于任何社群，请勿指定社群"


class ImageNotFound(NotFound):
    code = MediaCode.IMAGE_NOT_FOUND
    default_message = "图片不存在"


class ImageRejected(DomainError):
    code = MediaCode.IMAGE_REJECTED
    default_message = "图片未通过审核，不能使用"


class ImageInUse(DomainError):
    code = MediaCode.IMAGE_IN_USE
    default_message = "图片已用于其他帖子"


class ImageWrongGroup(DomainError):
    code = MediaCode.IMAGE_WRONG_GROUP
    default_message = "图片上传到了其他社群，请在本群重新上传"


class ImageWrongPurpose(DomainError):
    code = MediaCode.IMAGE_WRONG_PURPOSE
    default_message = "该图片不是帖子图片（如头像），不能附在帖子里"


class UrlInvalid(PermissionDenied):
    code = MediaCode.MEDIA_URL_INVALID
    default_message = "图片链接无效"


class UrlExpired(PermissionDenied):
    code = MediaCode.MEDIA_URL_EXPIRED
    default_message = "图片链接已过期，请刷新页面"


class WrongViewer(PermissionDenied):
    code = MediaCode.MEDIA_WRONG_VIEWER
    default_message = "该图片链接签发给了其他用户"
