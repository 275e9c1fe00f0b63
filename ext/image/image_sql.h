/* SQL glue of the image core (img_*). */
#ifndef IMGPCA_IMAGE_SQL_H
#define IMGPCA_IMAGE_SQL_H

#include "../sqlglue/sqlglue.h"

extern const ImgpcaModule imgpca_module_image;

#endif
