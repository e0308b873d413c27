/*
 * Accessibility repairs for HTML that Sphinx extensions write from Python,
 * where no template, option or stylesheet reaches (tests/test_browser.py runs
 * axe-core on every page and fails on serious or critical problems).
 *
 * - myst-nb's "Show code cell source" toggles carry aria-label="Toggle hidden
 *   content", a spoken name that differs from the visible text (WCAG 2.5.3:
 *   a voice-control user says what they see). The visible text is the name.
 * - Citation lists (sphinxcontrib-bibtex via docutils) use role="list" with
 *   children in the deprecated role "doc-biblioentry", so screen readers get a
 *   list with no items. Each entry becomes a list item.
 */
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll('summary[aria-label="Toggle hidden content"]').forEach((summary) => {
    summary.removeAttribute("aria-label");
  });
  document.querySelectorAll('[role="doc-biblioentry"]').forEach((entry) => {
    entry.setAttribute("role", "listitem");
  });
});
