import type { Template } from '../save/message.ts';

const base = `
*{box-sizing:border-box}
body{margin:0;min-height:100vh;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:42rem;margin:0 auto;padding:2rem 1rem}
h1{margin:0 0 1rem;font-size:1.75rem}
nav{display:flex;gap:1rem;margin-bottom:1.5rem}
ol.messages{list-style:none;margin:0;padding:0;display:grid;gap:.75rem}
.message{padding:.9rem 1rem;border-radius:.6rem}
.message p{margin:0 0 .4rem;white-space:pre-wrap;overflow-wrap:anywhere}
.message footer{font-size:.8rem;opacity:.7}
.empty{opacity:.7}
.older{display:inline-block;margin-top:1.25rem}
form{display:grid;gap:.75rem}
textarea{width:100%;min-height:8rem;padding:.6rem;font:inherit;border-radius:.4rem}
select,button{font:inherit;padding:.4rem .8rem;border-radius:.4rem}
button{cursor:pointer}
`;

const plain = `
body{background:#f7f7f8;color:#1d1d1f}
a{color:#0b57d0}
.message{background:#fff;border:1px solid #e3e3e6}
textarea,select{border:1px solid #c8c8cc;background:#fff}
button{border:0;background:#0b57d0;color:#fff}
`;

// Stars are layered radial gradients, so the page needs no images and no external requests.
const space = `
body{color:#e8eaf6;background-color:#05060f;
background-image:
radial-gradient(1px 1px at 20px 30px,#fff,transparent),
radial-gradient(1px 1px at 140px 70px,#cfd8ff,transparent),
radial-gradient(1.5px 1.5px at 90px 160px,#fff,transparent),
radial-gradient(1px 1px at 210px 120px,#ffe9c4,transparent),
radial-gradient(1px 1px at 260px 220px,#fff,transparent),
radial-gradient(ellipse at top,#1b2350 0%,#05060f 70%);
background-size:280px 260px,280px 260px,280px 260px,280px 260px,280px 260px,100% 100%;
background-attachment:fixed}
h1{letter-spacing:.08em;text-shadow:0 0 12px #7b8cff}
a{color:#9fb0ff}
.message{background:rgba(20,24,54,.75);border:1px solid #2e3a7a;box-shadow:0 0 18px rgba(90,110,255,.15)}
textarea,select{border:1px solid #2e3a7a;background:#0d1030;color:#e8eaf6}
button{border:0;background:#5b6cff;color:#fff;box-shadow:0 0 12px #5b6cff}
`;

/** Inline CSS per template; trusted constants, never user input. */
export const themes: Record<Template, string> = { default: base + plain, space: base + space };
