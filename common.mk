# Shared build settings.  Warnings are errors, always.
CC		?= cc
PKGS		 = libbsd-overlay libevent libssh sqlite3 jansson libseccomp libmd
PKG_CFLAGS	:= $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS	:= $(shell pkg-config --libs $(PKGS) 2>/dev/null)
WARNINGS	 = -Wall -Wextra -Wshadow -Wpointer-arith -Wcast-qual \
		   -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
		   -Wno-unused-parameter -Werror
CFLAGS		?= -O2 -g
CFLAGS		+= $(WARNINGS) -D_GNU_SOURCE $(PKG_CFLAGS)
LDLIBS		+= $(PKG_LIBS)
YACC		 = bison -y -Wno-yacc
