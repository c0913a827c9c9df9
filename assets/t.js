!function(w,d,l,n,c){let s=d.currentScript,a=e=>s.getAttribute("data-"+e),b=e=>a(e)!=c,S=a("site"),t={};if(!S||w.veil?.pageview)return;try{t=localStorage}catch(e){}
let E=a("api")||new URL("api/collect",s.src),F=-1,Y,L=e=>e?.split(/\W+/).filter(Boolean),A=L(a("consent")),H=b("hash-routing"),D=b("downloads"),B=b("outbound"),P,R=d.referrer,
W=(e,v)=>{try{v==c?delete t[e]:t[e]=v}catch(e){}},
K=(e=L(t.veil_consent))=>A&&e?A.filter(a=>e.includes(a)):A||e,
U=()=>l.origin+l.pathname+(H?l.hash.replace(/^#!?(\/[^?]*).*|.*/,"$1"):"")+l.search,
T=(e,p,r,g)=>{e=JSON.stringify({site:S,url:P||U(),referrer:R,width:screen.width,event:e,props:p,revenue:r,engagement:g,consent:K(),optout:!!t.veil_optout});n.sendBeacon(E,e)||fetch(E,{method:"POST",body:e,keepalive:!0}).catch(e=>0)},
Q=()=>Y=Math.max(Y,(scrollY+innerHeight)/d.documentElement.scrollHeight*100),
G=()=>{F>0&&!t.veil_optout&&K()?.length!=0&&T(c,c,c,{time_ms:Date.now()-F,scroll:Q()|0});F=-1},
V=e=>{G();Y=0;F=!d.hidden&&Date.now();P&&(R=P);P=e?new URL(e,l)+"":U();T()},Z=()=>U()!=P&&V(),
v=(e,p,r)=>/^(consent|optout|pageview)$/.test(e)?v[e](p):T(e,p,r),q=w.veil?.q||[];
v.pageview=V;v.consent=e=>(e!==c&&(A=c,W("veil_consent",e&&e+"")),K());v.optout=e=>(e!==c&&W("veil_optout",e?1:c),!!t.veil_optout);
w.veil=v;q.forEach(e=>v(...e));
d.addEventListener("click",e=>{let u=new URL(e.target.closest?.("a")?.href,l),h=u.host,f=h!=l.host?h:"",p=f+u.pathname;!h||(D&&/\.(pdf|zip|gz|dmg|exe|msi|apk|csv|xlsx?|docx?|txt|mp[34])$/i.test(p)?T("download",{file:p}):f&&B&&T("outbound",{url:p}))},!0);
d.addEventListener("visibilitychange",e=>d.hidden?G():F||(F=Date.now()));w.addEventListener("pagehide",G);w.addEventListener("scroll",Q);
if(b("manual"))return;
let h=history;["pushState","replaceState"].forEach(e=>{let o=h[e];h[e]=(...e)=>{o.apply(h,e);Z()}});w.addEventListener("popstate",Z);
d.prerendering?d.addEventListener("prerenderingchange",Z):Z()}(window,document,location,navigator);
