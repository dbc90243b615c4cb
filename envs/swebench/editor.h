// The file editor of SWE-agent 1.x (str_replace_editor): view, create, str_replace, insert and
// undo_edit on files under one root, the episode's repository. Its answers are the messages
// agents trained on SWE-agent expect; a refused edit changes nothing and says why.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "envs/swebench/action.h"

namespace rock::envs::swebench {

class Editor {
 public:
  // `root` must exist; answers name files by their absolute paths under it.
  explicit Editor(std::filesystem::path root);

  // The observation of a successful edit, or InvalidArgument/NotFound with the message the
  // agent sees instead. Nothing changes on disk when it fails.
  StatusOr<std::string> Apply(const EditAction& edit);

 private:
  // The file `path` (absolute, or relative to the root) names, confined to the root; symbolic
  // links that leave it are refused.
  StatusOr<std::filesystem::path> Resolve(const std::string& path) const;
  std::string Shown(const std::filesystem::path& file) const;

  StatusOr<std::string> View(const std::filesystem::path& file, const EditAction& edit) const;
  StatusOr<std::string> Create(const std::filesystem::path& file, const std::string& text);
  StatusOr<std::string> StrReplace(const std::filesystem::path& file, const EditAction& edit);
  StatusOr<std::string> Insert(const std::filesystem::path& file, const EditAction& edit);
  StatusOr<std::string> Undo(const std::filesystem::path& file);
  // Writes `text`, keeping what was there for undo_edit.
  Status Write(const std::filesystem::path& file, const std::string& before, const std::string& text);

  std::filesystem::path root_;
  // Earlier contents per file, newest last; nullopt: the file did not exist (create).
  std::map<std::filesystem::path, std::vector<std::optional<std::string>>> history_;
};

}  // namespace rock::envs::swebench
