# Turns the file IN into a C source OUT defining NAME (an unsigned char
# array, NUL-terminated), NAME_size (its length without the NUL) and
# NAME_etag (a quoted HTTP validator: the start of the file's SHA-256), so
# a file ships inside the binary: the demo page, the JS client, the status
# page (CMakeLists.txt: herald_embed).
if(NOT NAME)
  set(NAME hrg_demo_page)
endif()
get_filename_component(source ${IN} NAME)
file(READ ${IN} hex HEX)
file(SHA256 ${IN} sha)
string(SUBSTRING "${sha}" 0 20 sha)
string(LENGTH "${hex}" hexlen)
math(EXPR len "${hexlen} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
file(WRITE ${OUT} "/* Generated from ${source}; do not edit. */\n#include <stddef.h>\nconst unsigned char ${NAME}[] = {${body}0};\nconst size_t ${NAME}_size = ${len};\nconst char ${NAME}_etag[] = \"\\\"${sha}\\\"\";\n")
