"""A heuristic prompt-injection score between 0 and 1.

Each rule is a known jailbreak or injection move (overriding earlier instructions, "DAN" personas,
"developer mode", asking for the system prompt, chat-template role markers and fake turns, invisible
Unicode) with a weight: about how likely a text is an attack when that rule alone fires. The score
combines the rules that fire as independent evidence, 1 - prod(1 - weight), so one strong signal or a
few weak ones cross the threshold while a single weak one ("jailbreak my iPhone") does not.

Text the assistant reads but the user did not write (tool results, retrieved documents) is scored in
`retrieved` mode: extra rules catch instructions aimed at the assistant ("AI assistants must...",
"do not tell the user", links to exfiltrate data), and every weight counts more, since such text has
no business giving the assistant orders at all.

The text is scored after removing invisible characters and NFKC normalisation (full-width and other
look-alike forms), lower-cased. Each rule has trigger words checked with `in` first, so a text that
cannot match a rule costs a substring search, not a regex run.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from shared.guardrails import invisible


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    weight: float
    triggers: tuple[str, ...]
    pattern: re.Pattern[str]


def _rule(name: str, weight: float, triggers: str, *alternatives: str) -> Rule:
    """A rule: fires when one of the trigger substrings is in the text and one alternative matches."""
    return Rule(name, weight, tuple(triggers.split(",")), re.compile("|".join(alternatives)))


_OVERRIDE_VERB = r"(?:ignore|disregard|forget|override|bypass|skip|drop|abandon|set aside|discard)"
_EARLIER = r"(?:previous|prior|above|earlier|preceding|former|initial|original|all|any|your|system|the|these|"
_EARLIER += r"those|my|every)"
_RULE_NOUN = r"(?:instructions?|prompts?|rules|directives?|guidelines|directions|commands|programming|"
_RULE_NOUN += r"constraints|restrictions|guardrails|policies|safeguards|training|guidance|orders|"
_RULE_NOUN += r"(?:content |safety )?filters|safety (?:rules|measures|settings))"
# An order, not a description: the verb starts the text, a sentence, a clause or a quote, or follows
# "please", "you", "must", "to"... ("ignore all rules" yes; "user settings may override these rules" no).
_ORDER = r"(?:^|[.!?:;,\n\"'(\[*>\-]\s*|\b(?:please|now|and|just|simply|then|must|should|will|shall|"
_ORDER += r"to|always|kindly|you|also)\s+)"
_AI = r"(?:ai|assistant|chatbot|language model|llm|gpt|claude|bot|agent|model)"

# fmt: off
_RULES: tuple[Rule, ...] = (
    _rule("override_instructions", 0.9,
          "ignor,disregard,forget,overrid,bypass,skip,drop,abandon,aside,discard",
          rf"{_ORDER}{_OVERRIDE_VERB}\b[^.\n]{{0,40}}?\b{_EARLIER}\b[^.\n]{{0,30}}?\b{_RULE_NOUN}\b"),
    _rule("ignore_above", 0.65, "ignor,disregard,forget",
          r"\b(?:ignore|disregard|forget)\b (?:all |everything |anything )?(?:of )?(?:the |what'?s |what is |"
          r"that |what you were told )?(?:above|previous|prior|before|said before|you were told)\b"
          r"(?! (?:error|warning|commit|step|line|output|code|change|exception|result))"),
    _rule("override_instructions_i18n", 0.85, "ignor,olvid,oubli,vergiss",
          r"\b(?:ignorier\w*|vergiss\w*) (?:alle |die )?(?:vorherigen|bisherigen|obigen|vorigen) "
          r"(?:anweisungen|instruktionen|regeln)",
          r"\b(?:ignora|olvida)\w* (?:todas )?las (?:instrucciones|reglas) (?:anteriores|previas)",
          r"\b(?:ignore|oublie)\w* (?:toutes )?les (?:instructions|consignes|règles) "
          r"(?:précédentes|antérieures)"),
    _rule("dan", 0.9, "dan,do anything now,stands for",
          r"\bdo anything now\b",
          r"\byou are (?:now )?(?:a |the )?dan\b(?!')",
          r"\b(?:act|pretend|behave) (?:as|like|to be) (?:a )?dan\b(?!')",
          r"\bdan mode\b",
          r"\b(?:dan|stan|dude|aim|antigpt|betterdan)[,]? (?:which )?stands for\b"),
    _rule("persona_override", 0.45, "you are now,you're now,no longer,from now on",
          r"\byou(?: are|'re) now\b",
          r"\byou are no longer\b",
          r"\bfrom now on,? (?:you|your|act|respond|answer|reply|pretend|only)\b"),
    _rule("evil_persona", 0.6, "evil,unrestricted,unfiltered,uncensored,rogue,jailbroken",
          r"\b(?:pretend|imagine|act as|roleplay as|role-play as|you are|be)\b[^.\n]{0,30}\b(?:evil|"
          r"unrestricted|unfiltered|uncensored|rogue|jailbroken) "
          r"(?:ai|assistant|model|chatbot|bot|version)\b"),
    _rule("no_restrictions", 0.5, "restrict,limit,filter,censor,guideline,rules,ethic,moral,polic,safety",
          r"\b(?:no|without(?: any)?|free (?:of|from)|not bound by|unbound by|zero|ignoring|beyond)\b"
          r"[^.\n]{0,20}?\b(?:restrictions|limitations|filters|filtering|censorship|guidelines|ethics|morals|"
          r"morality|content polic(?:y|ies)|safety (?:rules|guidelines|filters)|rules)\b",
          r"\b(?:unfiltered|uncensored|unrestricted|amoral|unethical and)\b"),
    _rule("developer_mode", 0.7, "mode",
          r"\b(?:you|chatgpt|gpt|assistant|ai|model|llm|claude|gemini)\b[^.\n]{0,40}\b(?:developer|god|"
          r"jailbreak|sudo|unrestricted|evil|opposite) mode\b",
          r"\b(?:developer|jailbreak|unrestricted|evil|sudo) mode (?:enabled|activated|output|response)\b",
          r"\bjailbreak mode\b"),
    _rule("reveal_prompt", 0.7, "prompt,instruction,above,message,password",
          r"\b(?:reveal|show|print|repeat|output|display|tell me|give me|leak|dump|recite|spell out|"
          r"translate)\b[^.\n]{0,30}\b(?:your|the|all|my)\b[^.\n]{0,20}?\b(?:system (?:prompt|message|"
          r"instructions)|initial (?:prompt|instructions)|hidden (?:prompt|instructions)|original "
          r"(?:prompt|instructions)|(?:instructions|text|words|prompt) above|pre-?prompt|secret "
          r"(?:instructions|password|key))",
          r"\bwhat (?:is|are|was|were) (?:your|the) (?:system prompt|initial instructions|instructions you "
          r"were given|original instructions)",
          r"\b(?:what was|everything) (?:written|said) above\b",
          r"\b(?:print|repeat|output|show|reveal|dump|recite)\b (?:me )?(?:everything|all|the text|"
          r"whatever is|what'?s|what is) (?:written )?(?:above|before) (?:this|here)"),
    _rule("role_marker", 0.8, "<|,[inst,[/inst,<<sys,<system,</system,<sys_prompt,<system_prompt",
          r"<\|(?:im_start|im_end|system|assistant|user|endoftext|eot_id|start_header_id|end_header_id)\|>",
          r"\[/?inst\]|<</?sys>>|</?(?:system|sys_prompt|system_prompt)>"),
    _rule("system_header", 0.7, "system",
          r"(?:^|\n)[ \t]*(?:#{1,6}|\*\*|\[)[ \t]*system\b[^\n]{0,20}?[:\]*]"),
    # "System:" lines are also how prompt templates are written down; with orders in them they are not.
    _rule("fake_system_turn", 0.5, "system", r"(?:^|\n)[ \t]*system[ \t]*:[ \t]*\S"),
    _rule("fake_system_order", 0.7, "system",
          r"(?:^|\n)[ \t]*system[ \t]*:[^\n]{0,80}\b(?:new|policy|rules|ignore|override|reveal|must|"
          r"no longer|disabled|unrestricted|admin|grant|confidential|password|revoked)\b"),
    _rule("fake_assistant_order", 0.7, "assistant,ai:,chatgpt",
          r"(?:^|\n)[ \t]*(?:assistant|ai|chatgpt)[ \t]*:[^\n]{0,80}\b(?:ignore|override|no longer|"
          r"unrestricted|jailbr\w*|my rules|secret|password|confidential)\b"),
    _rule("fake_turn", 0.4, "assistant,human,ai:,chatgpt,role",
          r"(?:^|\n)[ \t]*(?:assistant|human|ai|chatgpt)[ \t]*:[ \t]*\S",
          r"\"role\"\s*:\s*\"(?:system|assistant|tool)\""),
    _rule("new_instructions", 0.7, "instruction,directive,override,command,task,order",
          r"\b(?:new|updated|revised|real|actual|true|secret|hidden|priority|additional) (?:system )?"
          r"(?:instructions?|directives?|orders|task)\s*[:\-!]",
          r"\b(?:system|admin|administrator|developer|root) (?:override|command|message|notice|alert|"
          r"instructions?)\s*[:\-!]",
          r"\bimportant (?:new )?instructions?\b"),
    _rule("rules_do_not_apply", 0.6, "apply",
          r"\b(?:rules|guidelines|restrictions|policies|filters|laws|ethics)\b[^.\n]{0,20}\b(?:don'?t|do not|"
          r"no longer|doesn'?t|does not) apply\b"),
    _rule("jailbreak_word", 0.35, "jailbr", r"\bjailbr(?:eak|oken|eaking)\b"),
    _rule("stay_in_character", 0.35, "character",
          r"\b(?:stay|remain|keep) in character\b|\b(?:never|don'?t|do not) break character\b"),
    _rule("grandma_exploit", 0.6, "grandma,grandmother",
          r"\b(?:dead|deceased|late) (?:grandma|grandmother)\b",
          r"\b(?:grandma|grandmother)\b[^.\n]{0,60}\bused to (?:read|tell|recite)"),
    _rule("refusal_suppression", 0.45, "refus,declin,sorry,can't,cannot,warning,disclaimer",
          r"\b(?:never|do not|don'?t|must not|will not|won'?t) (?:ever )?(?:refuse|decline|say (?:no|"
          r"you can'?t|i'?m sorry|sorry|that you cannot))\b",
          r"\bwithout (?:any )?(?:warnings?|disclaimers?|refus\w*)\b"),
    _rule("decode_and_follow", 0.75, "decode,decipher",
          r"\b(?:decode|decipher)\b[^.\n]{0,60}\b(?:and|then) (?:follow|execute|do|obey|run|act on)\b"),
)

_RETRIEVED_RULES: tuple[Rule, ...] = (
    _rule("addressed_to_assistant", 0.6, "ai,assistant,model,bot,agent,llm,gpt,claude,you",
          rf"\b{_AI}s? (?:reading|processing|viewing|seeing|summari[sz]ing|that reads?|who reads?) "
          r"(?:this|these)\b",
          rf"\b(?:dear|hey|hi|hello|attention|note to|message to|note for|instructions? (?:for|to))[,: ]+"
          rf"(?:the |all |any )?{_AI}s?\b",
          rf"\b{_AI}s?, (?:when|if|please|now|you|always|never|do|append|add|include|send|call|ignore|"
          r"reply)\b",
          rf"\bif you are an? {_AI}\b",
          r"\b(?:when|if|once) (?:you|the assistant|the ai) (?:read|see|process|summari[sz]e|encounter|find)"
          r" this\b"),
    _rule("orders_to_assistants", 0.5, "must,instructed,shall,required",
          rf"\b(?:ai |the )?{_AI}s?\b (?:must|are instructed to|shall|are required to)\b"),
    _rule("hide_from_user", 0.7, "user",
          r"\b(?:do not|don'?t|never) (?:tell|inform|mention|reveal|show|let|alert|warn) (?:this |it |"
          r"anything )?(?:to )?(?:the )?user\b",
          r"\bwithout (?:telling|informing|alerting|notifying) the user\b",
          r"\bthe user (?:must|should|need) not (?:know|see|be told)\b",
          r"\b(?:do not|don'?t|without|never) (?:ask(?:ing)?|wait(?:ing)?) (?:the user )?for (?:confirmation|"
          r"permission|approval|consent)\b"),
    _rule("exfiltrate", 0.6, "](http,send,forward,email,post,upload,exfiltrat,transmit,leak",
          r"!\[[^\]\n]{0,100}\]\(https?://[^)\s]{0,200}[?&][^)\s]{0,200}=",
          r"\b(?:send|forward|email|post|upload|exfiltrate|transmit|leak)\b[^.\n]{0,40}\b(?:conversation|"
          r"chat history|(?:the )?user'?s? (?:data|email|password|credentials|information|messages|files|"
          r"previous messages|inbox)|api keys?|passwords?|credentials|previous messages)\b"
          r"[^.\n]{0,30}\bto\b"),
    _rule("instead_respond", 0.4, "instead,respond,reply,answer",
          r"\binstead,? (?:you (?:should|must) )?(?:respond|reply|say|answer|output|write|tell|print)\b",
          r"\b(?:respond|reply|answer) (?:only |solely )?with\b"),
    _rule("use_tool", 0.45, "call,invoke,use,run,execute,visit,open,navigate,go to,click",
          r"\b(?:call|invoke|use|run|execute) (?:the )?(?:\w+ )?(?:tool|function|plugin|command)\b",
          r"\b(?:visit|open|navigate to|go to|click)\b[^.\n]{0,20}https?://",
          r"\b(?:append|add|include|insert|embed)\b[^.\n]{0,40}https?://"),
    _rule("you_must", 0.35, "you must,you are required,you need to,you will now",
          r"\byou (?:must|are required to|need to|will now)\b"),
)
# fmt: on


@dataclass(frozen=True, slots=True)
class InjectionScore:
    """The score and the names of the rules that fired (rule names only: no text)."""

    score: float
    rules: tuple[str, ...]


def _normalize(text: str) -> str:
    if not text.isascii():
        text = unicodedata.normalize("NFKC", invisible.remove(text))
    return text.lower()


def _hidden_weights(text: str) -> list[tuple[str, float]]:
    hidden = invisible.inspect(text)
    weights: list[tuple[str, float]] = []
    if hidden.tags:
        weights.append(("unicode_tags", 0.9))
    if hidden.overrides:
        weights.append(("bidi_override", 0.75))
    elif hidden.bidi:
        weights.append(("bidi_marks", 0.3))
    if hidden.zero_width:
        weights.append(("zero_width", 0.5 if hidden.zero_width >= 3 else 0.25))
    return weights


def score(text: str, *, retrieved: bool = False) -> InjectionScore:
    """Score one text; `retrieved` for tool output and documents the user did not write."""
    low = _normalize(text)
    hits = _hidden_weights(text)
    rules = _RULES + _RETRIEVED_RULES if retrieved else _RULES
    for rule in rules:
        if any(t in low for t in rule.triggers) and rule.pattern.search(low):
            hits.append((rule.name, rule.weight))
    miss = 1.0
    for _, weight in hits:
        # In retrieved text every signal counts more: 0.5 -> 0.65, 0.7 -> 0.84.
        miss *= (1.0 - weight) ** 1.5 if retrieved else 1.0 - weight
    return InjectionScore(round(1.0 - miss, 4), tuple(name for name, _ in hits))
