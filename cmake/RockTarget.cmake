# Warnings apply to our own targets only; third-party headers come in as SYSTEM includes.
function(rock_target_options target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
                         -Wold-style-cast -Wcast-align -Wunused -Woverloaded-virtual
                         -Wimplicit-fallthrough -Wformat=2
                         # Designated initializers leave members at their defaults on purpose.
                         -Wno-missing-field-initializers)
  if(ROCK_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
