() => {
  // Citation markers open and reveal their passage in the sources panel (event delegation: the chat
  // re-renders). Loaded by copilot/ui/app.py as the page's startup script.
  if (window.__cxCitations) return;
  window.__cxCitations = true;
  document.addEventListener('click', (event) => {
    const link = event.target.closest ? event.target.closest('a.cx-cite') : null;
    if (!link) return;
    event.preventDefault();
    event.stopPropagation();
    const target = document.getElementById((link.getAttribute('href') || '').slice(1));
    if (!target) return;
    for (let el = target; el; el = el.parentElement) { if (el.tagName === 'DETAILS') el.open = true; }
    target.scrollIntoView({behavior: 'smooth', block: 'nearest'});
    target.classList.remove('cx-flash');
    void target.offsetWidth;
    target.classList.add('cx-flash');
    setTimeout(() => target.classList.remove('cx-flash'), 1600);
  }, true);
}
