// Subcategory selects list every category's subcategories in groups (<optgroup label=
// "Category">), which works without JavaScript. With it, once a category is chosen, only that
// category's group (and the blank choice) stays visible; a hidden choice that was selected is
// cleared so the form never sends a pair that does not belong together.
(function () {
  "use strict";
  function wire(category, subcategory) {
    function update() {
      var chosen = category.options[category.selectedIndex];
      var name = chosen && chosen.value ? chosen.text : "";
      var groups = subcategory.getElementsByTagName("optgroup");
      for (var i = 0; i < groups.length; i++) {
        var group = groups[i];
        var show = !group.label || !name || group.label === name;
        group.hidden = !show;
        group.disabled = !show;
        if (!show && subcategory.selectedOptions.length &&
            subcategory.selectedOptions[0].parentNode === group) {
          subcategory.value = "";
        }
      }
    }
    category.addEventListener("change", update);
    update();
  }
  var selects = document.querySelectorAll("select[name$='subcategory']");
  for (var i = 0; i < selects.length; i++) {
    var sub = selects[i];
    var categoryName = sub.name.replace(/subcategory$/, "category");
    var category = sub.form && sub.form.elements.namedItem(categoryName);
    if (category && category.tagName === "SELECT") { wire(category, sub); }
  }
})();
