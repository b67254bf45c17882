"""Stable error codes of the community domain."""

from __future__ import annotations

from core.errors import Conflict, CoreCode, DomainError, ErrorCode, NotFound, PermissionDenied, RateLimited


class CommunityCode(ErrorCode):
    """Error codes of community: the value is what clients switch on."""

    ACCOUNT_NOT_FOUND = "ACCOUNT_NOT_FOUND", "账号不存在"
    RULES_TEXT_LENGTH = "RULES_TEXT_LENGTH", "群规不能超过5000个字符"
    ALIAS_PREFIX_LENGTH = "ALIAS_PREFIX_LENGTH", "匿名前缀需为1到8个字符"
    ALREADY_MEMBER = "ALREADY_MEMBER", "您已是该社群成员或申请正在审核中"
    ALREADY_REPORTED = "ALREADY_REPORTED", "您已举报过该内容，我们会尽快处理"
    ANONYMOUS_NOT_ALLOWED = "ANONYMOUS_NOT_ALLOWED", "该社群不允许匿名发帖"
    AUDIENCE_EMPTY = "AUDIENCE_EMPTY", "请至少选择一个社群或一位患者"
    BAN_DAYS_INVALID = "BAN_DAYS_INVALID", "封禁天数需为1到3650天"
    CANNOT_REPORT_OWN = "CANNOT_REPORT_OWN", "不能举报自己发布的内容"
    CAPACITY_INVALID = "CAPACITY_INVALID", "名额需在1到…之间，不限名额请留空"
    CHECKIN_CLOSED = "CHECKIN_CLOSED", "签到已结束"
    CHECKIN_KIND_INVALID = "CHECKIN_KIND_INVALID", "打卡类型无效，可选：血糖、血压、体重、运动、用药"
    CHECKIN_NOT_OPEN = "CHECKIN_NOT_OPEN", "签到尚未开始（活动开始前1小时开放）"
    CHECKIN_TARGET_REQUIRED = "CHECKIN_TARGET_REQUIRED", "请扫描参会者的签到二维码，或指定签到的患者（二选一）"
    CHECKIN_TOKEN_EXPIRED = "CHECKIN_TOKEN_EXPIRED", "签到二维码已过期"
    CHECKIN_TOKEN_INVALID = "CHECKIN_TOKEN_INVALID", "签到二维码无效或已失效"
    CHECKIN_TOKEN_USED = "CHECKIN_TOKEN_USED", "该签到二维码已使用，参会者已签到"
    CHECKIN_TOKEN_WRONG_EVENT = "CHECKIN_TOKEN_WRONG_EVENT", "该签到二维码属于其他活动"
    COMMENT_NOT_FOUND = "COMMENT_NOT_FOUND", "评论不存在"
    CONTENT_BLOCKED = "CONTENT_BLOCKED", "内容包含不允许发布的词语，请修改后再发"
    CREDENTIAL_DAYS_INVALID = "CREDENTIAL_DAYS_INVALID", "到期天数需为1到3650天"
    CREDENTIAL_EVIDENCE_INVALID = (
        "CREDENTIAL_EVIDENCE_INVALID",
        "证明材料需为已上传文件的存储路径（如 credentials/2024/a1.pdf，pdf/jpg/png，不超过200个字符）",
    )
    CREDENTIAL_EXPIRED = "CREDENTIAL_EXPIRED", "执业资质已过期，请联系管理员更新后再操作"
    CREDENTIAL_EXPIRY_INVALID = "CREDENTIAL_EXPIRY_INVALID", "有效期需晚于当前时间且不超过10年"
    CREDENTIAL_INSTITUTION_LENGTH = "CREDENTIAL_INSTITUTION_LENGTH", "执业机构需为2到100个字符"
    CREDENTIAL_NOT_FOUND = "CREDENTIAL_NOT_FOUND", "资质记录不存在"
    CREDENTIAL_NOT_PENDING = "CREDENTIAL_NOT_PENDING", "只能核验待审核的资质记录"
    CREDENTIAL_NOT_REVOCABLE = "CREDENTIAL_NOT_REVOCABLE", "该资质记录已撤销或已过期"
    CREDENTIAL_NUMBER_INVALID = "CREDENTIAL_NUMBER_INVALID", "执业证书编号需为6到32位字母或数字"
    CREDENTIAL_NUMBER_TAKEN = "CREDENTIAL_NUMBER_TAKEN", "该执业证书编号已登记在其他员工名下"
    CREDENTIAL_PENDING_EXISTS = "CREDENTIAL_PENDING_EXISTS", "该员工已有待审核的资质记录"
    CREDENTIAL_REQUIRED = "CREDENTIAL_REQUIRED", "需要经管理员核验且在有效期内的医生或健康管理师执业资质"
    CREDENTIAL_ROLE_NOT_CLINICAL = "CREDENTIAL_ROLE_NOT_CLINICAL", "仅医生和健康管理师可以登记执业资质"
    CREDENTIAL_SELF_VERIFY = "CREDENTIAL_SELF_VERIFY", "不能核验自己的执业资质"
    CREDENTIAL_SPECIALTY_LENGTH = "CREDENTIAL_SPECIALTY_LENGTH", "执业专业需为2到50个字符"
    DAYS_OUT_OF_RANGE = "DAYS_OUT_OF_RANGE", "天数需在1到…之间"
    DEADLINE_AFTER_START = "DEADLINE_AFTER_START", "报名截止时间不能晚于活动开始时间"
    DECISION_INVALID = "DECISION_INVALID", "处理方式无效"
    DETAIL_LENGTH = "DETAIL_LENGTH", "补充说明最多500个字"
    ENDS_BEFORE_START = "ENDS_BEFORE_START", "结束时间需晚于开始时间"
    EVENT_CANCELLED = "EVENT_CANCELLED", "该活动已取消"
    EVENT_ENDED = "EVENT_ENDED", "活动已结束"
    EVENT_KIND_INVALID = "EVENT_KIND_INVALID", "活动类型无效"
    EVENT_STARTED = "EVENT_STARTED", "活动已开始，不能再报名或更改报名"
    GLUCOSE_CONTEXT_INVALID = "GLUCOSE_CONTEXT_INVALID", "测量时段无效，可选：空腹、餐后、睡前"
    GROUP_SLUG_TAKEN = "GROUP_SLUG_TAKEN", "社群标识已被使用"
    HEALTH_ALERT_NOT_FOUND = "HEALTH_ALERT_NOT_FOUND", "健康预警不存在"
    HOST_NAME_LENGTH = "HOST_NAME_LENGTH", "主讲人不能超过60个字符"
    IMAGE_URL_INVALID = "IMAGE_URL_INVALID", "图片需为 https 链接"
    JOIN_ANSWER_LENGTH = "JOIN_ANSWER_LENGTH", "入群问题的回答不能超过500个字符"
    JOIN_ANSWER_REQUIRED = "JOIN_ANSWER_REQUIRED", "该社群设有入群问题，申请加入时请填写回答"
    JOIN_NOT_ALLOWED = "JOIN_NOT_ALLOWED", "该社群仅限邀请加入"
    JOIN_POLICY_INVALID = "JOIN_POLICY_INVALID", "加入方式无效"
    JOIN_QUESTION_LENGTH = "JOIN_QUESTION_LENGTH", "入群问题不能超过200个字符"
    LOCATION_REQUIRED = "LOCATION_REQUIRED", "线下活动需填写地点（200字以内）"
    MEMBERSHIP_NOT_FOUND = "MEMBERSHIP_NOT_FOUND", "成员不存在"
    MEMBER_BANNED = "MEMBER_BANNED", "您已被移出该社群"
    MEMBER_MUTED = "MEMBER_MUTED", "您已被禁言，暂时不能发言"
    MEMBER_STATE_INVALID = "MEMBER_STATE_INVALID", "成员状态无效"
    MEMBER_TARGET_REQUIRED = (
        "MEMBER_TARGET_REQUIRED",
        "请指定成员：成员编号（membershipId），或社群编号加账号编号（groupId 和 accountId），二选一",
    )
    MODERATION_ITEM_CLAIMED = "MODERATION_ITEM_CLAIMED", "该条目正由其他版主处理"
    MODERATION_ITEM_NOT_FOUND = "MODERATION_ITEM_NOT_FOUND", "审核条目不存在"
    MUTE_DAYS_INVALID = "MUTE_DAYS_INVALID", "禁言天数需为1到365天"
    NEW_MEMBER_LIMIT = "NEW_MEMBER_LIMIT", "新成员每天发帖和评论的数量有限，请明天再来"
    NOTE_LENGTH = "NOTE_LENGTH", "备注最多200个字"
    NOTE_TOO_LONG = "NOTE_TOO_LONG", "备注不能超过…个字符"
    NOT_A_MEMBER = "NOT_A_MEMBER", "加入社群后才能查看或参与"
    NOT_CARE_TEAM = "NOT_CARE_TEAM", "仅医生和健康管理师可以查看健康数据"
    NOT_REGISTERED = "NOT_REGISTERED", "您尚未成功报名该活动"
    NOTIFICATION_LEVEL_INVALID = "NOTIFICATION_LEVEL_INVALID", "通知级别无效，可选：全部、仅精选、不通知"
    OFFER_EXPIRED = "OFFER_EXPIRED", "名额保留已过期，已顺延给下一位候补"
    OFFER_HOLD_INVALID = "OFFER_HOLD_INVALID", "候补名额保留时间需为1到72小时"
    OFFER_NOT_FOUND = "OFFER_NOT_FOUND", "您没有待确认的名额"
    ONLINE_LINK_REQUIRED = "ONLINE_LINK_REQUIRED", "线上活动需提供 https 开头的参会链接"
    PHRASE_EMPTY = "PHRASE_EMPTY", "短语不能只包含空格或符号"
    PHRASE_LENGTH = "PHRASE_LENGTH", "例外短语需为2到60个字符"
    POST_KIND_INVALID = "POST_KIND_INVALID", "帖子类型无效"
    POST_LOCKED = "POST_LOCKED", "该帖子已锁定，不能再评论"
    POST_NOT_FOUND = "POST_NOT_FOUND", "帖子不存在"
    QUEUE_STATUS_INVALID = "QUEUE_STATUS_INVALID", "队列状态无效"
    REACTION_INVALID = "REACTION_INVALID", "表情类型无效"
    REASON_LENGTH = "REASON_LENGTH", "请填写取消原因（2到300个字符）"
    REGISTRATION_CLOSED = "REGISTRATION_CLOSED", "报名已截止"
    REPEAT_INVALID = "REPEAT_INVALID", "每周重复次数需为1到…"
    REPORT_REASON_INVALID = "REPORT_REASON_INVALID", "请选择举报原因"
    REQUEST_NOT_FOUND = "REQUEST_NOT_FOUND", "入群申请不存在或已处理"
    RESTRICTION_INVALID = "RESTRICTION_INVALID", "请选择禁言、封禁或解除其中一项"
    RESTRICT_NOT_ALLOWED = "RESTRICT_NOT_ALLOWED", "不能对该成员执行此操作"
    ROLE_INVALID = "ROLE_INVALID", "角色无效"
    RSVP_RESPONSE_INVALID = "RSVP_RESPONSE_INVALID", "报名选项无效"
    SECRET_NEEDS_INVITE = "SECRET_NEEDS_INVITE", "私密社群只能邀请加入"
    SHARE_LINK_NOT_FOUND = "SHARE_LINK_NOT_FOUND", "分享链接不存在或已过期"
    SLUG_INVALID = "SLUG_INVALID", "标识需为3到60位小写字母、数字或连字符"
    STARTS_IN_PAST = "STARTS_IN_PAST", "开始时间需晚于现在"
    SYSTOLIC_NOT_ABOVE_DIASTOLIC = "SYSTOLIC_NOT_ABOVE_DIASTOLIC", "收缩压应高于舒张压，请检查是否填反"
    TARGET_INVALID = "TARGET_INVALID", "对象类型无效"
    TARGET_KIND_INVALID = "TARGET_KIND_INVALID", "内容类型无效"
    TIME_ZONE_REQUIRED = "TIME_ZONE_REQUIRED", "时间需带时区"
    TITLE_LENGTH = "TITLE_LENGTH", "标题需为2到100个字符"
    TOO_MANY_GROUPS = "TOO_MANY_GROUPS", "一次最多邀请…个社群"
    TOO_MANY_IMAGES = "TOO_MANY_IMAGES", "最多9张图片"
    TOO_MANY_PATIENTS = "TOO_MANY_PATIENTS", "一次最多邀请…位患者"
    URL_INVALID = "URL_INVALID", "封面需为 https 链接"
    VALUE_REQUIRED = "VALUE_REQUIRED", "请填写该项（如：请选择今天是否已按时用药）"
    VALUE_NOT_NUMBER = "VALUE_NOT_NUMBER", "该项需为数字"
    VALUE_OUT_OF_RANGE = "VALUE_OUT_OF_RANGE", "该项超出合理范围（如：血糖需在1到35之间）"
    VALUE_NOT_INTEGER = "VALUE_NOT_INTEGER", "该项需为整数"
    VALUE_NOT_TEXT = "VALUE_NOT_TEXT", "该项需为文字"
    TEXT_TOO_LONG = "TEXT_TOO_LONG", "文字过长"
    VALUE_UNEXPECTED = "VALUE_UNEXPECTED", "这类打卡没有这一项"
    VERSION_CONFLICT = "VERSION_CONFLICT", "该条目已被其他版主处理，请刷新后查看"
    VISIBILITY_INVALID = "VISIBILITY_INVALID", "可见性无效"
    WORD_EMPTY = "WORD_EMPTY", "词语不能只包含空格或符号"
    WORD_LENGTH = "WORD_LENGTH", "词语需为1到60个字符"
    WORD_NOT_FOUND = "WORD_NOT_FOUND", "词语不存在"


class GroupNotFound(NotFound):
    code = CoreCode.GROUP_NOT_FOUND
    default_message = "社群不存在"


class SlugTaken(Conflict):
    code = CommunityCode.GROUP_SLUG_TAKEN
    default_message = "社群标识已被使用"


class NotMember(PermissionDenied):
    code = CommunityCode.NOT_A_MEMBER
    default_message = "加入社群后才能查看或参与"


class MemberMuted(PermissionDenied):
    code = CommunityCode.MEMBER_MUTED
    default_message = "您已被禁言，暂时不能发言"


class MemberBanned(PermissionDenied):
    code = CommunityCode.MEMBER_BANNED
    default_message = "您已被移出该社群"


class JoinNotAllowed(PermissionDenied):
    code = CommunityCode.JOIN_NOT_ALLOWED
    default_message = "该社群仅限邀请加入"


class AlreadyMember(Conflict):
    code = CommunityCode.ALREADY_MEMBER
    default_message = "您已是该社群成员或申请正在审核中"


class PostNotFound(NotFound):
    code = CommunityCode.POST_NOT_FOUND
    default_message = "帖子不存在"


class CommentNotFound(NotFound):
    code = CommunityCode.COMMENT_NOT_FOUND
    default_message = "评论不存在"


class PostLocked(DomainError):
    code = CommunityCode.POST_LOCKED
    default_message = "该帖子已锁定，不能再评论"


class AnonymousNotAllowed(DomainError):
    code = CommunityCode.ANONYMOUS_NOT_ALLOWED
    default_message = "该社群不允许匿名发帖"


class ContentBlocked(DomainError):
    code = CommunityCode.CONTENT_BLOCKED
    default_message = "内容包含不允许发布的词语，请修改后再发"


class NewMemberLimit(RateLimited):
    code = CommunityCode.NEW_MEMBER_LIMIT
    default_message = "新成员每天发帖和评论的数量有限，请明天再来"


class VersionConflict(Conflict):
    code = CommunityCode.VERSION_CONFLICT
    default_message = "该条目已被其他版主处理，请刷新后查看"


# --- moderation


class ItemNotFound(NotFound):
    code = CommunityCode.MODERATION_ITEM_NOT_FOUND
    default_message = "审核条目不存在"


class ItemClaimed(Conflict):
    code = CommunityCode.MODERATION_ITEM_CLAIMED
    default_message = "该条目正由其他版主处理"


class AlreadyReported(Conflict):
    code = CommunityCode.ALREADY_REPORTED
    default_message = "您已举报过该内容，我们会尽快处理"


class CannotReportOwn(DomainError):
    code = CommunityCode.CANNOT_REPORT_OWN
    default_message = "不能举报自己发布的内容"


class RestrictNotAllowed(PermissionDenied):
    code = CommunityCode.RESTRICT_NOT_ALLOWED
    default_message = "不能对该成员执行此操作"


class WordNotFound(NotFound):
    code = CommunityCode.WORD_NOT_FOUND
    default_message = "词语不存在"


# --- expert credentials (community/credentials.py)


class CredentialRequired(PermissionDenied):
    code = CommunityCode.CREDENTIAL_REQUIRED
    default_message = "需要经管理员核验且在有效期内的医生或健康管理师执业资质"


class CredentialExpired(CredentialRequired):
    code = CommunityCode.CREDENTIAL_EXPIRED
    default_message = "执业资质已过期，请联系管理员更新后再操作"


class CredentialSelfVerify(PermissionDenied):
    code = CommunityCode.CREDENTIAL_SELF_VERIFY
    default_message = "不能核验自己的执业资质"


class CredentialNotFound(NotFound):
    code = CommunityCode.CREDENTIAL_NOT_FOUND
    default_message = "资质记录不存在"


class CredentialNotPending(Conflict):
    code = CommunityCode.CREDENTIAL_NOT_PENDING
    default_message = "只能核验待审核的资质记录"


class CredentialNotRevocable(Conflict):
    code = CommunityCode.CREDENTIAL_NOT_REVOCABLE
    default_message = "该资质记录已撤销或已过期"


class CredentialPendingExists(Conflict):
    code = CommunityCode.CREDENTIAL_PENDING_EXISTS
    default_message = "该员工已有待审核的资质记录"


class CredentialNumberTaken(Conflict):
    code = CommunityCode.CREDENTIAL_NUMBER_TAKEN
    default_message = "该执业证书编号已登记在其他员工名下"


class CredentialRoleNotClinical(DomainError):
    code = CommunityCode.CREDENTIAL_ROLE_NOT_CLINICAL
    default_message = "仅医生和健康管理师可以登记执业资质"


# --- events (community/events/)


class EventNotFound(NotFound):
    code = CoreCode.EVENT_NOT_FOUND
    default_message = "活动不存在"


class EventCancelled(DomainError):
    code = CommunityCode.EVENT_CANCELLED
    default_message = "该活动已取消"


class EventStarted(DomainError):
    code = CommunityCode.EVENT_STARTED
    default_message = "活动已开始，不能再报名或更改报名"


class EventEnded(DomainError):
    code = CommunityCode.EVENT_ENDED
    default_message = "活动已结束"


class RegistrationClosed(DomainError):
    code = CommunityCode.REGISTRATION_CLOSED
    default_message = "报名已截止"


class OfferNotFound(Conflict):
    code = CommunityCode.OFFER_NOT_FOUND
    default_message = "您没有待确认的名额"


class OfferExpired(Conflict):
    code = CommunityCode.OFFER_EXPIRED
    default_message = "名额保留已过期，已顺延给下一位候补"


class NotRegistered(DomainError):
    code = CommunityCode.NOT_REGISTERED
    default_message = "您尚未成功报名该活动"


# --- check-ins (community/checkins/)


class HealthAlertNotFound(NotFound):
    code = CommunityCode.HEALTH_ALERT_NOT_FOUND
    default_message = "健康预警不存在"


class NotCareTeam(PermissionDenied):
    code = CommunityCode.NOT_CARE_TEAM
    default_message = "仅医生和健康管理师可以查看健康数据"
