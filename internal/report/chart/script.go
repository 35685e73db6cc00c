package chart

import "html/template"

// CSS styles charts and their tooltip; a page includes it once.
const CSS template.CSS = `svg.chart{display:block;max-width:100%;height:auto;background:#fff}
svg.chart .hover rect:hover{fill:rgba(0,0,0,.05)}
svg.chart .series path{pointer-events:none}
.chart-tip{position:absolute;z-index:10;pointer-events:none;white-space:pre;background:#fff;border:1px solid #bbb;border-radius:4px;padding:4px 8px;font:12px/1.4 system-ui,sans-serif;box-shadow:0 2px 6px rgba(0,0,0,.15)}`

// Script adds a crosshair and an immediate tooltip to every chart on the
// page. It moves each hover column's <title> into a data attribute (so the
// browser's slower native tooltip does not show twice) and marks the root
// element with data-charts-ready=<number of charts> once it has run. The
// charts work without it; it needs nothing from the network.
const Script template.JS = `(function(){
var tip=document.createElement('div');tip.className='chart-tip';tip.hidden=true;document.body.appendChild(tip);
var charts=document.querySelectorAll('svg.chart');
charts.forEach(function(svg){
var xh=svg.querySelector('.xhair');
svg.querySelectorAll('.hover rect').forEach(function(r){var t=r.querySelector('title');if(t){r.setAttribute('data-tip',t.textContent);t.remove();}});
svg.addEventListener('mouseover',function(e){var r=e.target.closest('.hover rect');if(!r)return;
if(xh){xh.setAttribute('x1',r.dataset.x);xh.setAttribute('x2',r.dataset.x);xh.setAttribute('visibility','visible');}
tip.textContent=r.getAttribute('data-tip');tip.hidden=false;});
svg.addEventListener('mousemove',function(e){tip.style.left=(e.pageX+14)+'px';tip.style.top=(e.pageY+14)+'px';});
svg.addEventListener('mouseleave',function(){if(xh)xh.setAttribute('visibility','hidden');tip.hidden=true;});
});
document.documentElement.setAttribute('data-charts-ready',String(charts.length));
})();`
