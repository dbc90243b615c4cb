#include "envs/swebench/editor.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <system_error>
#include <utility>

#include <cstdio>

namespace rock::envs::swebench {
namespace {

namespace fs = std::filesystem;

// A bigger file is refused by view: the agent should grep or view a range instead.
constexpr std::uintmax_t kMaxViewBytes = 2 << 20;
// Lines of context shown around an edit, as SWE-agent does.
constexpr int64_t kSnippetLines = 4;

std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> lines;
  std::string line;
  std::istringstream in(text);
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

// `cat -n`: each line numbered, from `first` (1-based).
std::string Numbered(const std::vector<std::string>& lines, int64_t first, int64_t last) {
  std::string out;
  for (int64_t i = first; i <= last && i <= static_cast<int64_t>(lines.size()); ++i) {
    char number[24];
    std::snprintf(number, sizeof(number), "%6lld\t", static_cast<long long>(i));
    out += number + lines[static_cast<std::size_t>(i - 1)] + "\n";
  }
  return out;
}

StatusOr<std::string> ReadFile(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return NotFound("The path " + file.string() + " does not exist or cannot be read.");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

template <typename... Parts>
std::string Cat(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}

std::string Joined(const std::vector<int64_t>& numbers, const char* separator) {
  std::string out;
  for (std::size_t i = 0; i < numbers.size(); ++i) out += (i == 0 ? "" : separator) + std::to_string(numbers[i]);
  return out;
}

bool Within(const fs::path& path, const fs::path& root) {
  const auto [end, _] = std::mismatch(root.begin(), root.end(), path.begin(), path.end());
  return end == root.end();
}

}  // namespace

Editor::Editor(fs::path root) : root_(root.lexically_normal()) {}

StatusOr<fs::path> Editor::Resolve(const std::string& path) const {
  fs::path asked(path);
  fs::path relative;
  if (asked.is_absolute()) {
    const fs::path normal = asked.lexically_normal();
    if (!Within(normal, root_)) {
      return InvalidArgument(Cat("The path ", path, " is outside the repository ", root_.string(), "; edit files under it."));
    }
    relative = normal.lexically_relative(root_);
  } else {
    relative = asked.lexically_normal();
  }
  if (!relative.empty() && *relative.begin() == "..") {
    return InvalidArgument(Cat("The path ", path, " is outside the repository ", root_.string(), "."));
  }
  const fs::path file = (root_ / relative).lexically_normal();
  std::error_code ec;
  const fs::path real = fs::weakly_canonical(file, ec);
  const fs::path real_root = fs::weakly_canonical(root_, ec);
  if (ec || !Within(real, real_root)) {
    return InvalidArgument(Cat("The path ", path, " leads outside the repository (a symbolic link?)."));
  }
  return file;
}

std::string Editor::Shown(const fs::path& file) const {
  return file.lexically_normal().string();
}

StatusOr<std::string> Editor::Apply(const EditAction& edit) {
  auto file = Resolve(edit.path);
  if (!file.ok()) return file.status();
  switch (edit.command) {
    case EditCommand::kView:
      return View(*file, edit);
    case EditCommand::kCreate:
      return Create(*file, *edit.file_text);
    case EditCommand::kStrReplace:
      return StrReplace(*file, edit);
    case EditCommand::kInsert:
      return Insert(*file, edit);
    case EditCommand::kUndoEdit:
      return Undo(*file);
  }
  return Internal("unknown edit command");
}

StatusOr<std::string> Editor::View(const fs::path& file, const EditAction& edit) const {
  std::error_code ec;
  if (fs::is_directory(file, ec)) {
    if (edit.view_range) return InvalidArgument("The `view_range` parameter is not allowed when `path` points to a directory.");
    std::vector<std::string> entries;
    for (auto it = fs::recursive_directory_iterator(file, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (!name.empty() && name[0] == '.') {
        if (it->is_directory()) it.disable_recursion_pending();
        continue;
      }
      if (it.depth() >= 1) it.disable_recursion_pending();
      entries.push_back(Shown(it->path()));
    }
    std::sort(entries.begin(), entries.end());
    std::string out = Cat("Here's the files and directories up to 2 levels deep in ", Shown(file), ", excluding hidden items:\n", Shown(file), "\n");
    for (const std::string& entry : entries) out += entry + "\n";
    return out;
  }
  if (!fs::is_regular_file(file, ec)) return NotFound(Cat("The path ", Shown(file), " does not exist."));
  if (fs::file_size(file, ec) > kMaxViewBytes) {
    return InvalidArgument(Cat(Shown(file), " is larger than ", kMaxViewBytes, " bytes; view a `view_range` or search it with grep."));
  }
  auto text = ReadFile(file);
  if (!text.ok()) return text.status();
  const std::vector<std::string> lines = SplitLines(*text);
  const auto count = static_cast<int64_t>(lines.size());
  int64_t first = 1, last = count;
  if (edit.view_range) {
    std::tie(first, last) = *edit.view_range;
    if (last == -1) last = count;
    if (first < 1 || first > std::max<int64_t>(count, 1) || last < first || last > count) {
      return InvalidArgument(Cat("Invalid `view_range` [", edit.view_range->first, ", ", edit.view_range->second, "]: the file has ", count, " lines; ask for 1 <= first <= last <= ", count, " (last -1: to the end)."));
    }
  }
  return Cat("Here's the result of running `cat -n` on ", Shown(file), ":\n", Numbered(lines, first, last));
}

Status Editor::Write(const fs::path& file, const std::string& before, const std::string& text) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return IoError("writing " + Shown(file) + " failed (is the disk full?)");
  history_[file].push_back(before);
  return Status::Ok();
}

StatusOr<std::string> Editor::Create(const fs::path& file, const std::string& text) {
  std::error_code ec;
  if (fs::exists(file, ec)) {
    return InvalidArgument(Cat("File already exists at: ", Shown(file), ". Cannot overwrite files using command `create`."));
  }
  fs::create_directories(file.parent_path(), ec);
  if (ec) return IoError(Cat("Cannot create the directory ", Shown(file.parent_path()), ": ", ec.message()));
  {
    std::ofstream out(file, std::ios::binary);
    out << text;
    if (!out) return IoError("writing " + Shown(file) + " failed (is the disk full?)");
  }
  history_[file].push_back(std::nullopt);
  return Cat("File created successfully at: ", Shown(file));
}

StatusOr<std::string> Editor::StrReplace(const fs::path& file, const EditAction& edit) {
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) return NotFound(Cat("The path ", Shown(file), " does not exist."));
  auto text = ReadFile(file);
  if (!text.ok()) return text.status();
  const std::string& old_str = *edit.old_str;
  const std::string new_str = edit.new_str.value_or("");
  if (old_str.empty()) return InvalidArgument("`old_str` must not be empty.");
  std::vector<int64_t> at_lines;
  for (std::size_t pos = text->find(old_str); pos != std::string::npos; pos = text->find(old_str, pos + 1)) {
    at_lines.push_back(1 + std::count(text->begin(), text->begin() + static_cast<std::ptrdiff_t>(pos), '\n'));
  }
  if (at_lines.empty()) {
    return InvalidArgument(
        Cat("No replacement was performed, old_str `", old_str, "` did not appear verbatim in ", Shown(file), "."));
  }
  if (at_lines.size() > 1) {
    return InvalidArgument(Cat("No replacement was performed. Multiple occurrences of old_str `", old_str, "` in lines ", Joined(at_lines, ", "), ". Please ensure it is unique"));
  }
  std::string edited = *text;
  edited.replace(text->find(old_str), old_str.size(), new_str);
  if (Status s = Write(file, *text, edited); !s.ok()) return s;
  const int64_t first = std::max<int64_t>(1, at_lines[0] - kSnippetLines);
  const int64_t last = at_lines[0] + kSnippetLines + std::count(new_str.begin(), new_str.end(), '\n');
  return Cat("The file ", Shown(file), " has been edited. Here's the result of running `cat -n` on a snippet of ", Shown(file), ":\n", Numbered(SplitLines(edited), first, last), "Review the changes and make sure they are as expected. Edit the file again if necessary.");
}

StatusOr<std::string> Editor::Insert(const fs::path& file, const EditAction& edit) {
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) return NotFound(Cat("The path ", Shown(file), " does not exist."));
  auto text = ReadFile(file);
  if (!text.ok()) return text.status();
  std::vector<std::string> lines = SplitLines(*text);
  const int64_t at = *edit.insert_line;
  const auto count = static_cast<int64_t>(lines.size());
  if (at < 0 || at > count) {
    return InvalidArgument(Cat("Invalid `insert_line` parameter: ", at, ". It should be within the range of lines of the file: [0, ", count, "]"));
  }
  const std::vector<std::string> inserted = SplitLines(*edit.new_str);
  lines.insert(lines.begin() + at, inserted.begin(), inserted.end());
  std::string edited;
  for (const std::string& line : lines) edited += line + "\n";
  if (Status s = Write(file, *text, edited); !s.ok()) return s;
  const int64_t first = std::max<int64_t>(1, at + 1 - kSnippetLines);
  const int64_t last = at + static_cast<int64_t>(inserted.size()) + kSnippetLines;
  return Cat("The file ", Shown(file), " has been edited. Here's the result of running `cat -n` on a snippet of the edited file:\n", Numbered(lines, first, last), "Review the changes and make sure they are as expected (correct indentation, no duplicate lines, etc). Edit the file again if necessary.");
}

StatusOr<std::string> Editor::Undo(const fs::path& file) {
  auto it = history_.find(file);
  if (it == history_.end() || it->second.empty()) return InvalidArgument(Cat("No edit history found for ", Shown(file), "."));
  const std::optional<std::string>& before = it->second.back();
  if (!before) {
    std::error_code ec;
    fs::remove(file, ec);
    if (ec) return IoError(Cat("Cannot remove ", Shown(file), ": ", ec.message()));
  } else {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out << *before;
    out.close();
    if (!out) return IoError("writing " + Shown(file) + " failed (is the disk full?)");
  }
  it->second.pop_back();
  return Cat("Last edit to ", Shown(file), " undone successfully.");
}

}  // namespace rock::envs::swebench
