# Turns the chat page into a C array (cmake -DIN=page.html -DOUT=page.c -P embed.cmake), so the
# server ships it inside the binary.
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" n)
math(EXPR bytes "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
file(WRITE "${OUT}" "/* generated from page.html by embed.cmake */\n#include <stddef.h>\n"
     "const unsigned char srv_page_html[] = {${body}0};\n"
     "const size_t srv_page_html_len = ${bytes};\n")
