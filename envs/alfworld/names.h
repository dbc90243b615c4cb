// Display names as ALFWorld gives them ("apple 1", "sinkbasin 1", "loc 12"): ALFWorld's
// Demangler, applied to the PDDL ids after Fast Downward has lowercased them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace rock::alfworld {

// `sorted_ids` holds every entity id that occurs in the problem's facts, lowercased, sorted as
// plain strings and unique. The class is the part before the first "_bar_" (plus "basin" when
// the id contains "basin", so the sink's basin is a "sinkbasin"); numbers count the ids of one
// class and are handed out in reverse sorted order, which is why ALFWorld lists "a cabinet 3,
// a cabinet 2, a cabinet 1". An id without "_bar_" keeps its own text and no number.
std::vector<std::string> DisplayNames(const std::vector<std::string>& sorted_ids);

// ASCII lowercase, as Fast Downward reads PDDL names.
std::string ToLower(std::string_view s);

// The id ALFRED writes for a THOR object id: "Apple|+01.59|+00.97|-01.29" becomes
// "Apple_bar__plus_01_dot_59_bar__plus_00_dot_97_bar__minus_01_dot_29".
std::string MangleThorId(std::string_view thor_id);

}  // namespace rock::alfworld
